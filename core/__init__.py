"""wxb.core: the mathematics of f = W·X ⊕ b, pure NumPy, no I/O.

The seed example, W = I, X = [[1,2],[3,4]], b = [5,6] (a 1-D bias is a column), with the sum loss:

>>> import numpy as np
>>> from wxb.core import backward, forward
>>> fw = forward([[1, 2], [3, 4]], [5, 6], W=np.eye(2))
>>> fw.f
array([[ 6.,  7.],
       [ 9., 10.]])
>>> fw.broadcast.describe()
'b (2,) as a column (2,1) → (2,2): repeated along axis 1, 2 times'
>>> grads = backward([[1, 2], [3, 4]], [5, 6], G=np.ones((2, 2)), W=np.eye(2))
>>> grads.db
array([2., 2.])
>>> grads.reductions["b"].describe()
'G summed over axis 1, kept as a column: dL/db = G·1'
"""

from typing import TYPE_CHECKING

from wxb.core.affine import (
    Forward,
    Gradients,
    Loss,
    Operand,
    backward,
    expand_bias,
    forward,
    loss_value,
    upstream_gradient,
)
from wxb.core.broadcast import BiasBroadcast, Reduction, unbroadcast
from wxb.core.errors import BiasEnlargesError, DtypeError, ShapeError, TooLargeError, WxbError
from wxb.core.operands import align_bias, as_operand

if TYPE_CHECKING:
    from wxb.core.gradcheck import CheckReport, CheckResult, gradient_check
    from wxb.core.jacobian import (
        JacobianStructure,
        dense_jacobian,
        jacobian_block,
        jacobian_entries,
        jacobian_structure,
    )

# The Jacobian and the gradient check load on first use (PEP 562), so `wxb forward` starts without them.
_LAZY = {
    **dict.fromkeys(("CheckReport", "CheckResult", "gradient_check"), "gradcheck"),
    **dict.fromkeys(
        ("JacobianStructure", "dense_jacobian", "jacobian_block", "jacobian_entries", "jacobian_structure"),
        "jacobian",
    ),
}


def __getattr__(name: str) -> object:
    """Load a lazily exported name from its module, once."""
    if name not in _LAZY:
        raise AttributeError(f"module 'wxb.core' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"wxb.core.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BiasBroadcast",
    "BiasEnlargesError",
    "CheckReport",
    "CheckResult",
    "DtypeError",
    "Forward",
    "Gradients",
    "JacobianStructure",
    "Loss",
    "Operand",
    "Reduction",
    "ShapeError",
    "TooLargeError",
    "WxbError",
    "align_bias",
    "as_operand",
    "backward",
    "dense_jacobian",
    "expand_bias",
    "forward",
    "gradient_check",
    "jacobian_block",
    "jacobian_entries",
    "jacobian_structure",
    "loss_value",
    "unbroadcast",
    "upstream_gradient",
]
