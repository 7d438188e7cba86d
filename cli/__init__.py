"""wxb.cli: the command-line shell around wxb.core: operands in, results out."""
