"""wxb.core: the mathematics of f = W·X ⊕ b and of any layer expression over named operands. Pure NumPy, no I/O.

The engine: an expression parsed into a graph, a table of primitives, reverse mode over the graph.

>>> import numpy as np
>>> from wxb.core import Problem
>>> p = Problem.build("tanh(W @ X + b)", {"W": np.eye(2), "X": [[1, 2], [3, 4]], "b": [0.5, -4]})
>>> p.forward().round(4)
array([[ 0.9051,  0.9866],
       [-0.7616,  0.    ]])
>>> grads = p.backward(np.ones((2, 2)))
>>> grads["b"].round(4)
array([0.2073, 1.42  ])
>>> grads.describe("b")
'G_z2 summed over axis 1, kept as a column: dL/db = G_z2·1'

The seed's map, W @ X + b, has conveniences of its own (a 1-D bias is a column):

>>> from wxb.core import backward, forward
>>> forward([[1, 2], [3, 4]], [5, 6], W=np.eye(2)).f
array([[ 6.,  7.],
       [ 9., 10.]])
>>> backward([[1, 2], [3, 4]], [5, 6], G=np.ones((2, 2)), W=np.eye(2)).db
array([2., 2.])
"""

from typing import TYPE_CHECKING

from .affine import Forward, affine, backward, expand_bias, forward
from .engine import Evaluation, Gradients, Problem
from .errors import (
    BiasEnlargesError,
    BindingError,
    DtypeError,
    ShapeError,
    SingularMatrixError,
    TooLargeError,
    WxbError,
)
from .expr import DEFAULT, DEFAULT_WITHOUT_W, Expression, ExpressionError, parse
from .losses import LOSSES, Loss, loss_value, upstream_gradient
from .operands import align_bias, as_operand
from .shapes import BiasBroadcast, Reduction, unbroadcast

if TYPE_CHECKING:
    from .affine import dense_jacobian, gradient_check, jacobian_block, jacobian_entries, jacobian_structure
    from .gradcheck import CheckReport, CheckResult, check_problem
    from .jacobian import JacobianStructure

# The Jacobian and the gradient check load on first use (PEP 562), so `wxb forward` starts without them.
_LAZY = {
    **dict.fromkeys(("CheckReport", "CheckResult", "check_problem"), "gradcheck"),
    "JacobianStructure": "jacobian",
    **dict.fromkeys(("dense_jacobian", "gradient_check", "jacobian_block", "jacobian_entries", "jacobian_structure"),
                    "affine"),
}


def __getattr__(name: str) -> object:
    """Load a lazily exported name from its module, once."""
    if name not in _LAZY:
        raise AttributeError(f"module 'wxb.core' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "DEFAULT",
    "DEFAULT_WITHOUT_W",
    "LOSSES",
    "BiasBroadcast",
    "BiasEnlargesError",
    "BindingError",
    "CheckReport",
    "CheckResult",
    "DtypeError",
    "Evaluation",
    "Expression",
    "ExpressionError",
    "Forward",
    "Gradients",
    "JacobianStructure",
    "Loss",
    "Problem",
    "Reduction",
    "ShapeError",
    "SingularMatrixError",
    "TooLargeError",
    "WxbError",
    "affine",
    "align_bias",
    "as_operand",
    "backward",
    "check_problem",
    "dense_jacobian",
    "expand_bias",
    "forward",
    "gradient_check",
    "jacobian_block",
    "jacobian_entries",
    "jacobian_structure",
    "loss_value",
    "parse",
    "unbroadcast",
    "upstream_gradient",
]
