"""f = W·X ⊕ b: the forward pass, the losses, and the backward pass (VJPs) as a table of gradient rules."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from wxb.core.broadcast import (
    BiasBroadcast,
    Reduction,
    Shape,
    bias_broadcast,
    broadcast_conflict,
    check_fits,
    shape_text,
    summed_matmul,
    unbroadcast,
)
from wxb.core.errors import ShapeError, WxbError
from wxb.core.operands import align_bias, as_operand

Loss = Literal["sum", "mean", "mse"]
Operand = Literal["b", "W", "X"]
OPERANDS: tuple[Operand, ...] = ("b", "W", "X")
LOSSES: tuple[Loss, ...] = ("sum", "mean", "mse")


# ---- Shapes ----

def matmul_shape(w: Shape, x: Shape) -> Shape:
    """Shape of np.matmul(W, X): (..., m, k) @ (..., k, n) → (..., m, n), batch axes broadcast, 1-D axes dropped."""
    for name, shape in (("W", w), ("X", x)):
        if not shape:
            raise ShapeError(f"{name} is a scalar (shape ()), but W·X is a matrix product: W and X need an axis",
                             hint="leave W out for f = X ⊕ b")
    w2, x2 = ((1, *w) if len(w) == 1 else w), ((*x, 1) if len(x) == 1 else x)
    if w2[-1] != x2[-2]:
        what = "entries" if len(w) == 1 else "columns"
        raise ShapeError(f"W {shape_text(w)} and X {shape_text(x)} do not multiply: "
                         f"W has {w2[-1]} {what} but X has {x2[-2]} rows")
    conflict = broadcast_conflict(w2[:-2], x2[:-2])
    if conflict is not None:
        axis, s, n = conflict
        raise ShapeError(f"the batch axes of W {shape_text(w)} and X {shape_text(x)} do not broadcast: "
                         f"on batch axis {axis}, W has size {s} but X has size {n}")
    batch = tuple(np.broadcast_shapes(w2[:-2], x2[:-2]))
    return batch + (w2[-2:-1] if len(w) > 1 else ()) + (x2[-1:] if len(x) > 1 else ())


@dataclass(frozen=True)
class AffineOperands:
    """X, b and W (None for f = X ⊕ b) as float arrays, checked to fit together."""

    X: np.ndarray
    b: np.ndarray
    W: np.ndarray | None
    broadcast: BiasBroadcast

    @property
    def f_shape(self) -> Shape:
        """The shape of f, which is the shape of W·X."""
        return self.broadcast.out_shape

    def operand(self, name: Operand) -> np.ndarray:
        """The operand called name; a missing W is refused with a hint."""
        if name == "W":
            if self.W is None:
                raise WxbError("there is no W to differentiate with respect to (f = X ⊕ b)",
                               hint="give W, or leave W out of the operands to differentiate")
            return self.W
        return self.X if name == "X" else self.b


def affine_operands(X: ArrayLike, b: ArrayLike, W: ArrayLike | None = None) -> AffineOperands:
    """The operands of f = W·X ⊕ b, converted (dtype policy) and checked (matmul and bias shapes)."""
    x, bias = as_operand(X, "X"), as_operand(b, "b")
    w = None if W is None else as_operand(W, "W")
    wx_shape = x.shape if w is None else matmul_shape(w.shape, x.shape)
    return AffineOperands(x, bias, w, bias_broadcast(bias.shape, wx_shape, wx_name="X" if w is None else "W·X"))


def wrt_operands(wrt: Iterable[str] | str) -> tuple[Operand, ...]:
    """The operands named in wrt, each once, in the order given; unknown names refused."""
    names = (wrt,) if isinstance(wrt, str) else tuple(wrt)
    chosen: list[Operand] = []
    for name in names:
        operand = next((o for o in OPERANDS if o == name), None)
        if operand is None:
            raise WxbError(f"cannot differentiate with respect to {name!r}", hint="choose from b, W, X")
        if operand not in chosen:
            chosen.append(operand)
    return tuple(chosen)


# ---- Forward ----

@dataclass(frozen=True)
class Forward:
    """f = W·X ⊕ b, and how b was broadcast to make it."""

    f: np.ndarray
    broadcast: BiasBroadcast


def forward(X: ArrayLike, b: ArrayLike, W: ArrayLike | None = None) -> Forward:
    """f = W·X ⊕ b = np.matmul(W, X) + b broadcast to its shape (a 1-D b as a column); f = X ⊕ b without W."""
    ops = affine_operands(X, b, W)
    bias = align_bias(ops.b, ops.f_shape)
    if ops.W is None:
        return Forward(ops.X + bias, ops.broadcast)
    return Forward(_add_into(np.matmul(ops.W, ops.X), bias), ops.broadcast)


def _add_into(fresh: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """fresh + bias, written into `fresh` (a new array of f's shape) when the sum keeps its dtype: no second f."""
    if not isinstance(fresh, np.ndarray) or np.result_type(fresh, bias) != fresh.dtype:  # a 0-d product is a scalar
        summed: np.ndarray = fresh + bias
        return summed
    np.add(fresh, bias, out=fresh)
    return fresh


def expand_bias(b: ArrayLike, out_shape: tuple[int, ...]) -> np.ndarray:
    """B = b·1ᵀ: b broadcast to out_shape (a 1-D b as a column), as a read-only view."""
    bias = as_operand(b, "b")
    bias_broadcast(bias.shape, tuple(out_shape))
    return np.broadcast_to(align_bias(bias, tuple(out_shape)), tuple(out_shape))


# ---- Losses ----

def _loss_name(loss: str) -> Loss:
    """loss checked against the known losses."""
    known = next((name for name in LOSSES if name == loss), None)
    if known is None:
        raise WxbError(f"unknown loss {loss!r}", hint="choose sum, mean or mse")
    return known


def _target(f: np.ndarray, target: ArrayLike | None) -> np.ndarray:
    """T for the mse loss: broadcastable to f by NumPy's rules without enlarging f."""
    if target is None:
        raise WxbError("the mse loss needs a target T", hint="give the target T, or use the sum or mean loss")
    t = as_operand(target, "T")
    check_fits("T", t.shape, "f", f.shape)
    return t


def upstream_gradient(f: np.ndarray, loss: Loss = "sum", target: ArrayLike | None = None) -> np.ndarray:
    """G = ∂L/∂f: ones for sum, 1/N for mean, 2(f − T)/N for mse = mean((f − T)²), N = f.size."""
    f = as_operand(f, "f")
    name = _loss_name(loss)
    n = max(f.size, 1)
    if name == "sum":
        return np.ones_like(f)
    if name == "mean":
        return np.full_like(f, 1.0 / n)
    residual: np.ndarray = 2.0 * (f - _target(f, target)) / n
    return residual


def loss_value(f: np.ndarray, loss: Loss = "sum", target: ArrayLike | None = None) -> float:
    """L(f): Σ f for sum, Σ f / N for mean, Σ (f − T)² / N for mse (N = f.size; mean and mse of no entries: nan)."""
    f = as_operand(f, "f")
    name = _loss_name(loss)
    if name == "sum":
        return float(np.sum(f))
    values = f if name == "mean" else (f - _target(f, target)) ** 2
    return float(np.sum(values) / f.size) if f.size else float("nan")


# ---- Backward: one gradient rule per operand, summed to its operand's shape by unbroadcast or summed_matmul ----

def _swap(a: np.ndarray) -> np.ndarray:
    """aᵀ over the last two axes (batched transpose)."""
    return np.swapaxes(a, -1, -2)


def _as_matrices(ops: AffineOperands, G: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W, X and G with the axes np.matmul adds to 1-D operands put back: W (k,) → (1,k), X (k,) → (k,1)."""
    assert ops.W is not None
    w = ops.W[np.newaxis, :] if ops.W.ndim == 1 else ops.W
    x = ops.X[:, np.newaxis] if ops.X.ndim == 1 else ops.X
    g = G[..., np.newaxis] if ops.X.ndim == 1 else G
    g = g[..., np.newaxis, :] if ops.W.ndim == 1 else g
    return w, x, g


def _bias_grad(ops: AffineOperands, G: np.ndarray) -> np.ndarray:
    """∂L/∂b = G summed over the axes b was broadcast along."""
    return unbroadcast(G, ops.broadcast.aligned_shape).reshape(ops.b.shape)


def _weight_grad(ops: AffineOperands, G: np.ndarray) -> np.ndarray:
    """∂L/∂W = G·Xᵀ, summed over the batch axes W was broadcast along."""
    w, x, g = _as_matrices(ops, G)
    return summed_matmul(g, _swap(x), w.shape[:-2]).reshape(ops.operand("W").shape)


def _input_grad(ops: AffineOperands, G: np.ndarray) -> np.ndarray:
    """∂L/∂X = Wᵀ·G, summed over the batch axes X was broadcast along (G itself, summed, without W)."""
    if ops.W is None:
        return unbroadcast(G, ops.X.shape)
    w, x, g = _as_matrices(ops, G)
    return summed_matmul(_swap(w), g, x.shape[:-2]).reshape(ops.X.shape)


GradientRule = Callable[[AffineOperands, np.ndarray], np.ndarray]
GRADIENT_RULES: Mapping[Operand, tuple[GradientRule, str]] = {
    "b": (_bias_grad, "G"),                     # ∂L/∂B = G, where B is b broadcast to f
    "W": (_weight_grad, "G·Xᵀ"),                # ∂L/∂W = G·Xᵀ
    "X": (_input_grad, "Wᵀ·G"),                 # ∂L/∂X = Wᵀ·G
}


def _unsummed_shape(ops: AffineOperands, G: np.ndarray, wrt: Operand) -> Shape:
    """The shape of ∂L/∂θ per batch entry, before it is summed to θ's shape (to describe the reduction)."""
    if wrt == "b" or ops.W is None:
        return G.shape
    w, x, g = _as_matrices(ops, G)
    if wrt == "W":
        batch = tuple(np.broadcast_shapes(g.shape[:-2], x.shape[:-2]))
        return batch + w.shape[-min(ops.operand("W").ndim, 2):]
    batch = tuple(np.broadcast_shapes(w.shape[:-2], g.shape[:-2]))
    return batch + x.shape[-2:][:ops.X.ndim]


@dataclass(frozen=True)
class Gradients:
    """dL/db, dL/dW, dL/dX (None when not asked for), each with its reduction."""

    db: np.ndarray | None
    dW: np.ndarray | None
    dX: np.ndarray | None
    reductions: Mapping[str, Reduction]


def gradient(ops: AffineOperands, G: np.ndarray, wrt: Operand) -> tuple[np.ndarray, Reduction]:
    """dL/dθ by θ's gradient rule, summed to θ's shape, with a description of the sum."""
    operand = ops.operand(wrt)
    rule, label = GRADIENT_RULES[wrt]
    label = "G" if wrt == "X" and ops.W is None else label
    aligned = ops.broadcast.aligned_shape if wrt == "b" else operand.shape
    reduction = Reduction.between(wrt, operand.shape, _unsummed_shape(ops, G, wrt), aligned_shape=aligned,
                                  gradient=label)
    return rule(ops, G), reduction


def check_upstream(G: ArrayLike, f_shape: Shape) -> np.ndarray:
    """G as an operand, refused unless it has f's exact shape."""
    g = as_operand(G, "G")
    if g.shape != tuple(f_shape):
        raise ShapeError(f"G has shape {shape_text(g.shape)} but f = W·X ⊕ b has shape {shape_text(tuple(f_shape))}:"
                         " the upstream gradient ∂L/∂f must have f's shape")
    return g


def backward(X: ArrayLike, b: ArrayLike, G: ArrayLike, W: ArrayLike | None = None,
             wrt: Iterable[Operand] = ("b",)) -> Gradients:
    """dL/db = Σ_broadcast G, dL/dW = Σ_batch G·Xᵀ, dL/dX = Σ_batch Wᵀ·G, for G = ∂L/∂f."""
    ops = affine_operands(X, b, W)
    g = check_upstream(G, ops.f_shape)
    results = {name: gradient(ops, g, name) for name in wrt_operands(wrt)}
    grads = {name: grad for name, (grad, _) in results.items()}
    return Gradients(grads.get("b"), grads.get("W"), grads.get("X"),
                     {name: reduction for name, (_, reduction) in results.items()})
