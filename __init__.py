"""wxb: a command-line calculator for f = W·X ⊕ b and any layer expression over named operands.

The repository root is the package `wxb`: core/ is `wxb.core` (the mathematics, pure NumPy) and cli/ is `wxb.cli`
(the command line around it). Within each package imports are relative, so the layers read the same to a person
and to static tools.
"""
