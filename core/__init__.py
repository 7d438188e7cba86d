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
from wxb.core.gradcheck import CheckReport, CheckResult, gradient_check
from wxb.core.jacobian import (
    JacobianStructure,
    dense_jacobian,
    jacobian_block,
    jacobian_entries,
    jacobian_structure,
)
from wxb.core.operands import align_bias, as_operand

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
