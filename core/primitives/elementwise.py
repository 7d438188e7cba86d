"""The elementwise rows: operators and functions that broadcast (a 1-D argument beside a matrix is a column).
Each VJP is written for the broadcast shape; the engine sums it back to the argument's shape once, with
`unbroadcast`. Read them as autograd's numpy_vjps.py: one short rule per line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..errors import WxbError
from ..nodes import Node
from ..shapes import Array, elementwise_shape
from .row import VJP, Forward, Kink, Primitive

Check = Callable[[Node, Sequence[Array], Array], None]


def sigmoid(x: Array) -> Array:
    """1 / (1 + e^(−x)), without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    out: Array = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out


def softplus(x: Array) -> Array:
    """log(1 + e^x), stably: log(e^0 + e^x) without overflow for large x or loss for very negative x."""
    out: Array = np.logaddexp(0, x)
    return out


def power_vjp(node: Node, g: Array, x: Array) -> Array:
    """g ⊙ p·x^(p−1); for p = 0 the derivative is 0 everywhere (x⁰ = 1), also at x = 0."""
    if node.power == 0:
        zero: Array = np.zeros_like(g * x)
        return zero
    grad: Array = g * node.power * x ** (node.power - 1)
    return grad


def at_zero(node: Node, args: Sequence[Array], value: Array) -> int:
    """How many entries of the argument are 0 (the kink of relu and abs, the jump of sign)."""
    return int(np.count_nonzero(args[0] == 0))


def unary(name: str, forward: Forward, vjp: VJP, rule: str, formula: str, *, uses: str, linear: bool = False,
          symbol: str = "", template: str = "", drawn: str = "call", factor: str = "",
          check: Check | None = None, folds: tuple[tuple[str, str], ...] = (), numpy: str = "",
          kink: str = "") -> Primitive:
    """An elementwise function of one argument; factor: its diagonal Jacobian (default diag(vec name′(x)));
    check: refuses an argument outside the domain; folds: its identities with an inner function, numpy: its NumPy
    spelling (default np.name(x); Primitive); kink: the derivative taken where the argument is 0. Its tangent
    rule is its VJP applied to the tangent: a diagonal Jacobian is its own transpose."""
    return Primitive(name, symbol or name, elementwise_shape, forward, (vjp,), (rule,), (linear,), uses,
                     called=not template, template=template, drawn=drawn, elementwise=True,
                     factors=(factor or f"diag(vec {symbol or name}′({{x}}))",), formulas=(formula,), check=check,
                     folds=folds, numpy=numpy or (f"np.{name}({{x}})" if not template else ""),
                     jvps=(vjp,), kink=Kink(at_zero, kink) if kink else None)


def within_one(node: Node, args: Sequence[Array], value: Array) -> None:
    """arcsin and arccos: every finite entry of the argument in [−1, 1], else one error naming the node."""
    x = args[0]
    outside = np.isfinite(x) & (np.abs(x) > 1)
    if np.any(outside):
        at = tuple(int(i) for i in np.argwhere(outside)[0])
        raise WxbError(f"{node.text}: {node.args[0].text} has {float(x[at])!r} at {list(at)}, outside "
                       f"{node.op}'s domain [−1, 1]", hint=f"{node.op} takes values from −1 to 1")


def binary(name: str, symbol: str, forward: Forward, vjp_x: VJP, vjp_y: VJP, rule_x: str, rule_y: str,
           formulas: tuple[str, str], *, uses: str, factors: tuple[str, str], linear: tuple[bool, bool] = (True, True),
           additive: bool = False, inplace: np.ufunc | None = None, reads: tuple[str, str] | tuple[()] = ()
           ) -> Primitive:
    """An elementwise operator of two arguments, broadcasting (a 1-D argument beside a matrix is a column). Its
    tangent rules are its VJPs applied to the tangents (each Jacobian is diagonal, before the broadcast)."""
    return Primitive(name, symbol, elementwise_shape, forward, (vjp_x, vjp_y), (rule_x, rule_y), linear, uses,
                     called=False, template=f"{{x}} {symbol} {{y}}", drawn="infix", elementwise=True,
                     factors=factors, additive=additive, inplace=inplace, formulas=formulas, jvps=(vjp_x, vjp_y),
                     reads=reads)


def step(x: Array) -> Array:
    """The unit step H(x): 1 where x > 0, else 0 (H(0) = 0, the subgradient relu takes at 0)."""
    out: Array = np.where(x > 0, 1.0, 0.0).astype(np.result_type(x.dtype, np.float16), copy=False)
    return out


def signed(g: Array, x: Array) -> Array:
    """g ⊙ sign(x) applied as a mask: 0 where x = 0 even for an infinite g (not 0·∞ = NaN)."""
    out: Array = np.where(x > 0, g, np.where(x < 0, -g, 0))
    return out



ROWS: tuple[Primitive, ...] = (
    binary("add", "+", lambda n, x, y: x + y,
           lambda n, g, f, x, y: g,                    lambda n, g, f, x, y: g,
           "{G}", "{G}", ("G", "G"), uses="", factors=("", ""), additive=True, inplace=np.add),
    binary("sub", "−", lambda n, x, y: x - y,
           lambda n, g, f, x, y: g,                    lambda n, g, f, x, y: -g,
           "{G}", "−{G}", ("G", "-G"), uses="", factors=("", "−I"), additive=True, inplace=np.subtract),
    binary("mul", "⊙", lambda n, x, y: x * y,
           lambda n, g, f, x, y: g * y,                lambda n, g, f, x, y: g * x,
           "{G} ⊙ {y}", "{G} ⊙ {x}", ("G * y", "G * x"), uses="xy", reads=("y", "x"),
           factors=("diag(vec {y})", "diag(vec {x})")),
    binary("div", "⊘", lambda n, x, y: x / y,
           lambda n, g, f, x, y: g / y,                lambda n, g, f, x, y: -g * f / y,
           "{G} ⊘ {y}", "−{G} ⊙ {f} ⊘ {y}", ("G / y", "-G * f / y"), uses="yf", reads=("y", "yf"), linear=(True, False),
           factors=("diag(vec 1/{y})", "diag(vec −{f}/{y})")),
    unary("neg", lambda n, x: -x,                      lambda n, g, f, x: -g,
          "−{G}", "-G", uses="", linear=True, symbol="−", template="−{x}", drawn="", factor="−I"),
    unary("pow", lambda n, x: x ** n.power,            lambda n, g, f, x: power_vjp(n, g, x),
          "{G} ⊙ {p}·{x}^{q}", "p * G * x ** q", uses="x", symbol="^", template="{x}^{p}", drawn="",
          factor="diag(vec {p}·{x}^{q})"),
    unary("relu", lambda n, x: np.maximum(x, 0),       lambda n, g, f, x: np.where(x > 0, g, 0),
          "{G} ⊙ [{x} > 0]", "G * step(x)", uses="x", numpy="np.maximum({x}, 0)",
          kink="the derivative 0 at {x} = 0"),
    unary("tanh", lambda n, x: np.tanh(x),             lambda n, g, f, x: g * (1 - f * f),
          "{G} ⊙ (1 − {f}²)", "G * (1 - f ** 2)", uses="f"),
    unary("sigmoid", lambda n, x: sigmoid(x),          lambda n, g, f, x: g * f * (1 - f),
          "{G} ⊙ {f} ⊙ (1 − {f})", "G * f * (1 - f)", uses="f", numpy="_sigmoid({x})"),
    unary("softplus", lambda n, x: softplus(x),        lambda n, g, f, x: g * sigmoid(x),
          "{G} ⊙ sigmoid({x})", "G * sigmoid(x)", uses="x",
          numpy="np.logaddexp(0, {x})"),
    unary("exp", lambda n, x: np.exp(x),               lambda n, g, f, x: g * f,
          "{G} ⊙ {f}", "G * f", uses="f", folds=(("log", ""), ("log_softmax", "softmax"))),
    unary("log", lambda n, x: np.log(x),               lambda n, g, f, x: g / x,
          "{G} ⊘ {x}", "G / x", uses="x"),
    unary("log1p", lambda n, x: np.log1p(x),           lambda n, g, f, x: g / (1 + x),
          "{G} ⊘ (1 + {x})", "G / (1 + x)", uses="x"),
    unary("sqrt", lambda n, x: np.sqrt(x),             lambda n, g, f, x: g / (2 * f),
          "{G} ⊘ (2{f})", "G / (2 * f)", uses="f"),
    unary("abs", lambda n, x: np.abs(x),               lambda n, g, f, x: signed(g, x),
          "{G} ⊙ sign({x})", "G * sign(x)", uses="x", kink="the derivative 0 at {x} = 0 (a subgradient)"),
    unary("sign", lambda n, x: np.sign(x),             lambda n, g, f, x: np.zeros_like(g),
          "0 (flat on each side of 0)", "0", uses="", linear=False, factor="0",
          kink="the derivative 0 at {x} = 0, where sign jumps"),
    unary("step", lambda n, x: step(x),                lambda n, g, f, x: np.zeros_like(g),
          "0 (flat on each side of 0)", "0", uses="", linear=False, factor="0",
          numpy="np.where({x} > 0, 1.0, 0.0)", kink="the derivative 0 at {x} = 0, where step jumps"),
    unary("sin", lambda n, x: np.sin(x),               lambda n, g, f, x: g * np.cos(x),
          "{G} ⊙ cos({x})", "G * cos(x)", uses="x"),
    unary("cos", lambda n, x: np.cos(x),               lambda n, g, f, x: -g * np.sin(x),
          "−{G} ⊙ sin({x})", "-G * sin(x)", uses="x"),
    unary("tan", lambda n, x: np.tan(x),               lambda n, g, f, x: g * (1 + f * f),
          "{G} ⊙ (1 + {f}²)", "G * (1 + f ** 2)", uses="f"),
    unary("arctan", lambda n, x: np.arctan(x),         lambda n, g, f, x: g / (1 + x * x),
          "{G} ⊘ (1 + {x}²)", "G / (1 + x ** 2)", uses="x"),
    unary("arcsin", lambda n, x: np.arcsin(x),         lambda n, g, f, x: g / np.sqrt(1 - x * x),
          "{G} ⊘ √(1 − {x}²)", "G / sqrt(1 - x ** 2)", uses="x", check=within_one),
    unary("arccos", lambda n, x: np.arccos(x),         lambda n, g, f, x: -g / np.sqrt(1 - x * x),
          "−{G} ⊘ √(1 − {x}²)", "-G / sqrt(1 - x ** 2)", uses="x", check=within_one),
    unary("sinh", lambda n, x: np.sinh(x),             lambda n, g, f, x: g * np.cosh(x),
          "{G} ⊙ cosh({x})", "G * cosh(x)", uses="x"),
    unary("cosh", lambda n, x: np.cosh(x),             lambda n, g, f, x: g * np.sinh(x),
          "{G} ⊙ sinh({x})", "G * sinh(x)", uses="x"),
)
