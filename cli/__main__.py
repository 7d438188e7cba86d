"""`python -m wxb.cli` runs the same program as the `wxb` script."""

from wxb.cli.app import main

main()
