"""`python -m wxb.cli` runs the same program as the `wxb` script."""

from .app import main

main()
