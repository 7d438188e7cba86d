"""A derivation as NumPy code: one self-contained Python function that computes every requested gradient.

The operands come in the forms a NumPy user holds them (a 1-D array for a 1-D operand); where wxb's reading
differs from NumPy's, the code says so as it goes: a 1-D value beside a matrix is a column (`x[:, None]`), the
transpose of a 1-D value is a row (`x[None, :]`), the transpose of a batch swaps its last two axes, and a
reduction along an axis keeps it (`keepdims=True`). Each call is spelled by its row of the table of primitives
(`Primitive.numpy`); the few helpers those spellings name (a stable softmax, say) are printed with the code.
Results are returned in their operands' own shapes, keyed as `wxb backward` keys them (dW, db, …). With names
only (no shapes), every operand is taken to be a matrix, as derive takes it. Pure: returns text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..primitives import PRIMITIVES
from ..shapes import Shape
from .derive import Derivation
from .shaped import Writer
from .terms import BINARY, Term, level, number_text

HELPERS = {
    "_sigmoid": '''def _sigmoid(z):
    """1 / (1 + e^(−z)), without overflow."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))''',
    "_softmax": '''def _softmax(z, axis=-2):
    """softmax along axis (wxb's default −2: each column; axis 0 of a vector)."""
    axis = 0 if np.ndim(z) == 1 and axis == -2 else axis
    top = np.max(z, axis=axis, keepdims=True, initial=-np.inf)
    e = np.exp(z - np.where(np.isfinite(top), top, 0))
    return e / np.sum(e, axis=axis, keepdims=True)''',
    "_log_softmax": '''def _log_softmax(z, axis=-2):
    """log softmax along axis (wxb's default −2: each column; axis 0 of a vector)."""
    axis = 0 if np.ndim(z) == 1 and axis == -2 else axis
    top = np.max(z, axis=axis, keepdims=True, initial=-np.inf)
    top = np.where(np.isfinite(top), top, 0)
    return z - top - np.log(np.sum(np.exp(z - top), axis=axis, keepdims=True))''',
    "_logsumexp": '''def _logsumexp(z, axis=None, keepdims=False):
    """log Σ e^z over axis (every axis by default), stably (−inf over no entries)."""
    top = np.max(z, axis=axis, keepdims=True, initial=-np.inf)
    top = np.where(np.isfinite(top), top, 0)
    out = np.log(np.sum(np.exp(z - top), axis=axis, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=axis)''',
    "_norm": '''def _norm(z, axis=None, keepdims=False):
    """The Euclidean norm over axis (every axis by default)."""
    return np.sqrt(np.sum(z * z, axis=axis, keepdims=keepdims))''',
    "_diag": '''def _diag(z):
    """A vector's diagonal matrix, or a (batch of) matrix's diagonal."""
    return np.diag(z) if np.ndim(z) == 1 else np.diagonal(z, axis1=-2, axis2=-1)''',
    "_kron": '''def _kron(a, b):
    """A ⊗ B of two matrices (a 1-D operand is a column)."""
    column = lambda z: np.reshape(z, (-1, 1)) if np.ndim(z) == 1 else z
    return np.kron(column(a), column(b))''',
    "_blockdot": '''def _blockdot(g, b):
    """⟨G_ij, B⟩ for each p×q block G_ij of G (B is p×q): an (m, n) matrix, kron's gradient in its left factor."""
    column = lambda z: np.reshape(z, (-1, 1)) if np.ndim(z) == 1 else z
    g, b = column(g), column(b)
    (r, c), (p, q) = g.shape, b.shape
    return np.einsum("ikjl,kl->ij", g.reshape(r // p, p, c // q, q), b)''',
    "_blocksum": '''def _blocksum(g, a):
    """Σ_ij A_ij·G_ij over the m×n grid of blocks of G (A is m×n): kron's gradient in its right factor."""
    column = lambda z: np.reshape(z, (-1, 1)) if np.ndim(z) == 1 else z
    g, a = column(g), column(a)
    (r, c), (m, n) = g.shape, a.shape
    return np.einsum("ikjl,ij->kl", g.reshape(m, r // m, n, c // n), a)''',
    "_onehot": '''def _onehot(y, z):
    """T in the shape of the scores z (classes along axis 0): T[y_k, k] = 1, 0 elsewhere."""
    classes = np.shape(z)[0]
    return (np.arange(classes).reshape(-1, 1) == np.reshape(y, (1, -1))).astype(float).reshape(np.shape(z))''',
    "_cross_entropy": '''def _cross_entropy(z, y):
    """−log softmax(z[:, k])[y_k] for each column k (classes along axis 0): the row (1, n)."""
    z = np.reshape(z, (-1, 1)) if np.ndim(z) == 1 else z
    top = np.max(z, axis=0, keepdims=True)
    picked = np.take_along_axis(z, np.reshape(y, (1, -1)).astype(int), axis=0)
    return np.log(np.sum(np.exp(z - top), axis=0, keepdims=True)) + top - picked''',
}

SHAPED = '''def _shaped(value, like):
    """A gradient in its operand's shape: a formula constant along an axis is written in a smaller shape that
    broadcasts to the operand's (a 1-D operand's gradient may come as its column)."""
    v, shape = np.asarray(value, dtype=float), np.shape(like)
    if v.shape == shape:
        return v
    if len(shape) == 1 and v.ndim == 2 and v.shape[1] == 1:
        return np.broadcast_to(v, (shape[0], 1)).reshape(shape).copy()
    if v.ndim == 1 and len(shape) >= 2:
        v = v.reshape(-1, 1)
    return np.broadcast_to(v, shape).copy()'''


class Coder:
    """Writes terms as NumPy expressions, with the shapes the Writer knows (None: names only)."""

    def __init__(self, writer: Writer, names: Mapping[Term, str]) -> None:
        self.writer = writer
        self.names = names

    def ndim(self, t: Term) -> int | None:
        shape = self.writer.shape(t) if self.writer.shapes is not None else None
        return None if shape is None else len(shape)

    def code(self, t: Term) -> str:
        if t in self.names:
            return self.names[t]
        if t.op == "var":
            return t.name
        if t.op == "const":
            return number_text(t.value)
        if t.op in BINARY:
            return self.binary(t)
        if t.op == "neg":
            return "-" + self.wrapped(t.args[0], 2)
        if t.op == "pow":
            return f"{self.wrapped(t.args[0], 5)} ** {number_text(t.power)}"
        if t.op == "T":
            return self.transposed(t.args[0])
        return self.call(t)

    def precedence(self, t: Term) -> int:
        """How tightly t's code binds: a name, a call, a transpose or an index is an atom (5)."""
        if t in self.names or (t.op not in BINARY and t.op not in ("neg", "pow", "const")):
            return 5
        return level(t)

    def wrapped(self, t: Term, tighter_than: int) -> str:
        """t's code, in parentheses unless it binds at least as tightly as `tighter_than`."""
        text = self.code(t)
        return text if self.precedence(t) >= tighter_than else f"({text})"

    def column(self, t: Term) -> str:
        """t as a column when it is 1-D (wxb's reading of a 1-D value beside a matrix)."""
        return f"{self.wrapped(t, 5)}[:, None]"

    def binary(self, t: Term) -> str:
        own = level(t)
        a, b = t.args
        if t.op == "matmul":
            left = self.column(a) if self.ndim(a) == 1 else self.wrapped(a, own)
            return f"{left} @ {self.wrapped(b, own + 1)}"
        nd = [self.ndim(a), self.ndim(b)]
        sides = []
        for i, arg in enumerate(t.args):
            other = nd[1 - i]
            if nd[i] == 1 and other is not None and other >= 2:
                sides.append(self.column(arg))
            else:
                sides.append(self.wrapped(arg, own if i == 0 else own + 1))
        return f"{sides[0]} {BINARY[t.op]} {sides[1]}"

    def transposed(self, t: Term) -> str:
        nd = self.ndim(t)
        if nd == 1:
            return f"{self.wrapped(t, 5)}[None, :]"
        if nd == 0:  # a number is its own transpose
            return self.wrapped(t, 5)
        if nd is not None and nd >= 3:
            return f"np.swapaxes({self.code(t)}, -1, -2)"
        return f"{self.wrapped(t, 5)}.T"

    def call(self, t: Term) -> str:
        row = PRIMITIVES[t.op]
        matrix = row.batch.whole_matrices and t.op not in ("diag", "eye")  # trace, det, inv…: 1-D as a column
        as_column = matrix and self.ndim(t.args[0]) == 1
        args = [self.column(a) if as_column and i == 0 else self.code(a) for i, a in enumerate(t.args)]
        code = row.numpy.format(**dict(zip("xy", args, strict=False)), kw=self.keywords(t))
        return f"np.reshape({code}, -1)" if as_column and self.ndim(t) == 1 else code  # inv of a 1-D: 1-D

    def keywords(self, t: Term) -> str:
        """The row's keywords as NumPy takes them: axis as written (or the row's default), keepdims as wxb keeps."""
        keywords = dict(PRIMITIVES[t.op].keywords)
        if "axis" not in keywords:
            return ""
        axis = keywords["axis"] if t.default_axis else t.axis
        if "keepdims" not in keywords:  # along an axis: softmax, log_softmax
            return "" if t.default_axis else f", axis={axis}"
        keeps = t.keepdims if t.keepdims is not None else axis is not None
        said = "" if axis is None else f", axis={axis}"
        return said + (f", keepdims={keeps}" if keeps or axis is not None else "")


def numpy_code(derivation: Derivation, shapes: Mapping[str, Shape] | None, function: str = "gradients") -> str:
    """The derivation as a self-contained Python function of the operands (and G when the formulas read it)."""
    writer = Writer(None if shapes is None else {**shapes})
    if shapes is not None and derivation.upstream:
        writer.shapes = {**shapes, "G": derivation.f_shape or ()}
    names: dict[Term, str] = {}
    coder = Coder(writer, names)
    body = []
    for label, term in derivation.where:
        body.append(f"    {label} = {coder.code(term)}")
        names[term] = label
    for name in derivation.formulas:
        body.append(f"    d{name} = {coder.code(derivation.named[name])}")
    keyed = ", ".join(f'"d{name}": _shaped(d{name}, {name})' for name in derivation.formulas)
    body.append("    return {" + keyed + "}")
    parameters = [*derivation.expression.operands, *(["G"] if derivation.upstream else [])]
    wanted = ", ".join(f"dL/d{name}" for name in derivation.formulas)
    notes = [f"    {line}" for line in (["G is ∂L/∂f, in f's shape."] if derivation.upstream else [])
             + ([] if shapes is not None else ["Every operand is taken to be a matrix (derive had no shapes)."])]
    docstring = f'    """{wanted} for f = {derivation.expression.text} (wxb derive --format numpy).'
    head = [f"def {function}({', '.join(parameters)}):", docstring + ("\n" + "\n".join(notes) + '\n    """'
                                                                       if notes else '"""')]
    text = "\n".join(body)
    used = [name for name in HELPERS if re.search(rf"\b{name}\(", text)]
    parts = ["import numpy as np", *[HELPERS[name] for name in used], SHAPED, "\n".join(head) + "\n" + text]
    return "\n\n\n".join(parts) + "\n"
