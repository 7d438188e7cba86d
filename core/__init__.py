"""wxb.core: the mathematics of f = W·X ⊕ b, pure NumPy, no I/O.

The public API is re-exported here; see the README's "Use from Python" section.
"""

from wxb.core.errors import BiasEnlargesError, DtypeError, ShapeError, TooLargeError, WxbError

__all__ = ["BiasEnlargesError", "DtypeError", "ShapeError", "TooLargeError", "WxbError"]
