"""The arithmetic of the language: smart constructors that simplify as a person writes (no `* 1`, constants
folded and moved to the front, (Aᵀ)ᵀ = A, x + x = 2 * x, P @ x + Q @ x = (P + Q) @ x, a row's own identities such
as exp(log_softmax(z)) = softmax(z)). Shapes, where they are known, come from the Writer (symbolic.shaped) built on
this class. Pure: no I/O."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from ..errors import WxbError
from ..primitives import PRIMITIVES
from ..shapes import Shape, aligned, as_matrix_shape
from .terms import ZERO, Term, chain, const, factors, is_const, is_identity, leaf, scaled

# What derive --assume and check --claim's draws know an operand to be (spd and diagonal are symmetric too).
ASSUMPTIONS = ("symmetric", "spd", "diagonal", "orthogonal")


class Simplifier:
    """Builds simplified terms. The shape of a term (None when operands' shapes are not known) and a sum along an
    axis kept are the Writer's (symbolic.shaped), which a product needs to sum a constant factor out."""

    shapes: Mapping[str, Shape] | None
    assume: Mapping[str, str]  # what an operand is: symmetric, spd, diagonal or orthogonal (derive --assume)
    used: dict[str, str]  # the assumptions a simplification relied on

    def shape(self, t: Term) -> Shape | None:
        raise NotImplementedError

    def is_scalar(self, t: Term) -> bool:
        raise NotImplementedError

    def ndim(self, t: Term, default: int = 2) -> int:
        raise NotImplementedError

    def summed(self, t: Term, axis: int | None, full: Shape | None = None) -> Term:
        raise NotImplementedError

    # ---- elementwise ----

    def add(self, a: Term, b: Term) -> Term:
        if is_const(a, 0):
            return b
        if is_const(b, 0):
            return a
        if is_const(a) and is_const(b):
            return const(a.value + b.value)
        if b.op == "neg":
            return self.sub(a, b.args[0])
        if a.op == "neg":
            return self.sub(b, a.args[0])
        if a == b:
            return self.mul(const(2), a)
        (ca, ra), (cb, rb) = scaled(a), scaled(b)
        if ra == rb:
            return self.mul(const(ca + cb), ra)
        if ca == cb != 1:  # c·r + c·s = c·(r + s)
            return self.mul(const(ca), self.add(ra, rb))
        if ca < 0 < cb:  # −c·r + s is written s − c·r
            return self.sub(b, self.mul(const(-ca), ra))
        if a.op == "matmul" and b.op == "matmul":
            fa, fb = factors(a), factors(b)
            if fa[-1] == fb[-1] and len(fa) > 1 and len(fb) > 1:  # P @ x + Q @ x = (P + Q) @ x
                return self.matmul(self.add(chain(fa[:-1]), chain(fb[:-1])), fa[-1])
            if fa[0] == fb[0] and len(fa) > 1 and len(fb) > 1:  # X @ P + X @ Q = X @ (P + Q)
                return self.matmul(fa[0], self.add(chain(fa[1:]), chain(fb[1:])))
        if a.op == "T" and a.args[0] == b:  # A.T + A → A + A.T, as written in books
            return Term("add", (b, a))
        return Term("add", (a, b))

    def sub(self, a: Term, b: Term) -> Term:
        if is_const(b, 0):
            return a
        if is_const(a, 0):
            return self.neg(b)
        if is_const(a) and is_const(b):
            return const(a.value - b.value)
        if b.op == "neg":
            return self.add(a, b.args[0])
        if a.op == "neg":
            return self.neg(self.add(a.args[0], b))
        (ca, ra), (cb, rb) = scaled(a), scaled(b)
        if ra == rb and ca != cb:
            return self.mul(const(ca - cb), ra)
        return Term("sub", (a, b))

    def neg(self, a: Term) -> Term:
        if a.op == "const":
            return const(-a.value)
        if a.op == "neg":
            return a.args[0]
        if a.op == "mul" and is_const(a.args[0]):
            return self.mul(const(-a.args[0].value), a.args[1])
        if a.op == "sub":
            return Term("sub", (a.args[1], a.args[0]))
        return Term("neg", (a,))

    def mul(self, a: Term, b: Term) -> Term:
        if is_const(a, 0) or is_const(b, 0):
            return ZERO
        if is_const(a, 1):
            return b
        if is_const(b, 1):
            return a
        cancelled = self._cancelled(Term("mul", (a, b)))
        if cancelled is not None:
            return cancelled
        if is_const(a) and is_const(b):
            return const(a.value * b.value)
        for ones, other in ((a, b), (b, a)):  # c * u ** 0 is c where the ones add no axis to c
            if ones.op == "pow" and ones.power == 0 and self._holds(other, ones):
                return other
        if is_const(a, -1):
            return self.neg(b)
        if is_const(b):
            return self.mul(b, a)
        if b.op in ("add", "sub") and self._outer(b):  # a * (G - s), G a column and s a row: a * G - a * s
            return self._binary(b.op, self.mul(a, b.args[0]), self.mul(a, b.args[1]))
        if a.op == "neg":
            return self.neg(self.mul(a.args[0], b))
        if b.op == "neg":
            return self.neg(self.mul(a, b.args[0]))
        if is_const(a) and b.op == "mul" and is_const(b.args[0]):
            return self.mul(const(a.value * b.args[0].value), b.args[1])
        if b.op == "mul" and is_const(b.args[0]):
            return self.mul(b.args[0], self.mul(a, b.args[1]))
        if a.op == "mul" and is_const(a.args[0]) and not is_const(b):
            return self.mul(a.args[0], self.mul(a.args[1], b))
        if is_const(a) and b.op == "matmul":  # 2 * (A @ B) is written 2 * A @ B
            return Term("matmul", (self.mul(a, b.args[0]), b.args[1]))
        if is_const(a) and b.op == "div" and is_const(b.args[0]):
            return self.div(const(a.value * b.args[0].value), b.args[1])
        if is_const(a) and b.op == "div" and is_const(b.args[1]) and b.args[1].value != 0:
            return self.mul(const(a.value / b.args[1].value), b.args[0])
        if a.op == "div" and is_const(a.args[0], 1):  # 1 / y * x is x / y
            return self.div(b, a.args[1])
        if b.op == "div" and is_const(b.args[0], 1):
            return self.div(a, b.args[1])
        return Term("mul", (a, b))

    def div(self, a: Term, b: Term) -> Term:
        if is_const(a, 0):
            return ZERO
        if is_const(b, 1):
            return a
        cancelled = self._cancelled(Term("div", (a, b)))
        if cancelled is not None:
            return cancelled
        if is_const(a) and is_const(b) and b.value != 0:
            return const(a.value / b.value)
        if a.op == "neg":
            return self.neg(self.div(a.args[0], b))
        if a.op == "div" and is_const(a.args[1]) and is_const(b):  # x / 3 / 3 is x / 9
            return self.div(a.args[0], const(a.args[1].value * b.value))
        if a.op == "mul" and is_const(a.args[0]) and is_const(b) and b.value != 0:
            return self.mul(const(a.args[0].value / b.value), a.args[1])
        if is_const(a) and b.op == "mul" and is_const(b.args[0]) and b.args[0].value != 0:
            return self.div(const(a.value / b.args[0].value), b.args[1])
        if a.op == "exp" and b.op == "add" and a in b.args and any(is_const(t, 1) for t in b.args):
            return Term("sigmoid", a.args)  # e^u / (1 + e^u) = σ(u): the logistic loss's gradient
        return Term("div", (a, b))

    def pow(self, a: Term, p: float) -> Term:
        if p == 1:
            return a
        if a.op == "const":
            return const(a.value ** p)
        return Term("pow", (a,), power=p)

    def call(self, op: str, args: tuple[Term, ...], axis: int | None = None, default_axis: bool = True,
             keepdims: bool | None = None) -> Term:
        if op == "diag" and len(args) == 1 and self.shapes is not None:
            diagonal = self._diagonal_of_broadcast(args[0])
            if diagonal is not None:
                return diagonal
        if op == "unvec" and args[0].op == "pow" and args[0].power == 0:  # ones refilled are ones of X's shape
            return self.pow(args[1], 0)
        if op == "inv" and self._is("orthogonal", args[0]):  # Q⁻¹ = Qᵀ
            return self.transpose(args[0])
        folds = dict(PRIMITIVES[op].folds) if op in PRIMITIVES else {}
        if len(args) == 1 and args[0].op in folds:  # the row's identities: exp(log_softmax(z)) = softmax(z)
            inner, result = args[0], folds[args[0].op]
            if not result:
                return inner.args[0]
            return Term(result, inner.args, axis=inner.axis, default_axis=inner.default_axis)
        linear = PRIMITIVES[op].linear if op in PRIMITIVES else ()
        for i, arg in enumerate(args):  # constants and signs come out of an argument the function is linear in
            if i < len(linear) and linear[i] and (arg.op == "neg" or (arg.op == "mul" and is_const(arg.args[0]))):
                c, inner = (const(-1.0), arg.args[0]) if arg.op == "neg" else arg.args
                rest = (*args[:i], inner, *args[i + 1:])
                return self.mul(c, self.call(op, rest, axis, default_axis, keepdims))
        return Term(op, args, axis=axis, default_axis=default_axis, keepdims=keepdims)

    # ---- linear algebra ----

    def transpose(self, a: Term) -> Term:
        """aᵀ, moved onto operands where that reads better: (Aᵀ)ᵀ = A, (A @ Bᵀ)ᵀ = B @ Aᵀ and (A + B)ᵀ = Aᵀ + Bᵀ
        for operands A and B; a larger subexpression keeps its .T, so it is still the same subexpression. A 1-D
        operand is a column, so (xᵀ)ᵀ is x."""
        if a.op == "const" or self._symmetric(a):
            return a
        if a.op == "T":
            return a.args[0]
        if a.op == "neg":
            return self.neg(self.transpose(a.args[0]))
        if a.op == "mul" and is_const(a.args[0]):
            return self.mul(a.args[0], self.transpose(a.args[1]))
        if a.op == "div" and is_const(a.args[1]):
            return self.div(self.transpose(a.args[0]), a.args[1])
        if a.op == "matmul" and any(map(leaf, a.args)):
            moved = self.matmul(self.transpose(a.args[1]), self.transpose(a.args[0]))
            if all(self.ndim(arg) >= 2 for arg in a.args) or self._same_matrix(moved, Term("T", (a,))):
                return moved
        if a.op in ("add", "sub", "mul", "div") and all(leaf(arg) and self.ndim(arg) != 1 for arg in a.args):
            return self._binary(a.op, self.transpose(a.args[0]), self.transpose(a.args[1]))
        return Term("T", (a,))

    def matmul(self, a: Term, b: Term) -> Term:
        """a @ b; a factor that is constant along the contracted axis (a scalar, a column G beside a row) is
        summed out of the other: c·1 @ B = c·1 (1ᵀB)."""
        if is_const(a, 0) or is_const(b, 0):
            return ZERO
        if a.op == "neg":
            return self.neg(self.matmul(a.args[0], b))
        if b.op == "neg":
            return self.neg(self.matmul(a, b.args[0]))
        if b.op == "mul" and is_const(b.args[0]):
            return self.matmul(self.mul(b.args[0], a), b.args[1])
        if a.op == "mul" and is_const(a.args[0]) and a.args[1].op == "mul" and is_const(a.args[1].args[0]):
            return self.matmul(self.mul(a.args[0], a.args[1]), b)
        if is_identity(a):
            return b
        if is_identity(b):
            return a
        if b.op == "mul" and not is_const(b.args[0]) and self.is_scalar(b.args[0]):  # A @ (s * B) = s * (A @ B)
            return self.mul(b.args[0], self.matmul(a, b.args[1]))
        if a.op == "mul" and not is_const(a.args[0]) and self.is_scalar(a.args[0]):
            return self.mul(a.args[0], self.matmul(a.args[1], b))
        if b.op == "matmul" and factors(b)[0].op == "mul" and is_const(factors(b)[0].args[0]):
            head, *rest = factors(b)  # A @ (2 * B @ C) = 2 * A @ (B @ C): the number to the front
            return self.mul(head.args[0], self.matmul(a, chain([head.args[1], *rest])))
        fa, fb = factors(a), factors(b)
        if self._inverses(fa[-1], fb[0]):  # … @ X⁻¹ @ X @ … = … @ …
            rest = fa[:-1] + fb[1:]
            if not rest:
                return Term("eye", (fb[0] if fb[0].op != "inv" else fa[-1],))
            return functools.reduce(self.matmul, rest)
        sa, sb = self.shape(a), self.shape(b)
        if sa is not None and sb is not None:
            if sa == ():
                return self.mul(a, self.summed(b, -2))
            if sb == ():  # a 1-D a is a column: constant along its one column already
                return self.mul(b, a if len(sa) == 1 else self.summed(a, -1))
            ma, mb = as_matrix_shape(sa), as_matrix_shape(sb)
            if ma[-1] == 1 != mb[-2]:
                return self._product(a, self.summed(b, -2))
            if mb[-2] == 1 != ma[-1]:
                return self._product(self.summed(a, -1), b)
        elif is_const(a) or is_const(b):
            scalar, other, axis = (a, b, -2) if is_const(a) else (b, a, -1)
            return self.mul(scalar, self.summed(other, axis))
        return Term("matmul", (a, b))

    def _same_matrix(self, a: Term, b: Term) -> bool:
        """True when a and b have the same shape as matrices (a 1-D one a column), or shapes are not known."""
        try:
            sa, sb = self.shape(a), self.shape(b)
        except WxbError:
            return False
        return sa is None or sb is None or as_matrix_shape(sa) == as_matrix_shape(sb)

    def _product(self, a: Term, b: Term) -> Term:
        """a @ b, or a * b where one factor has been summed to a number."""
        return self.mul(a, b) if () in (self.shape(a), self.shape(b)) else Term("matmul", (a, b))

    def _outer(self, t: Term) -> bool:
        """True when t (a sum or difference) would enlarge both of its arguments: an outer sum, which the engine
        refuses."""
        try:
            self.shape(t)
        except WxbError:
            return self.shapes is not None
        return False

    def _holds(self, t: Term, other: Term) -> bool:
        """True when t's shape is already t ⊙ other's (other broadcasts into t; a 1-D t is a column)."""
        mine, theirs = self.shape(t), self.shape(other)
        if mine is None or theirs is None:
            return False
        a, b = aligned(mine, theirs), aligned(theirs, mine)
        return len(b) <= len(a) and all(n in (1, m) for m, n in zip(a[len(a) - len(b):], b, strict=True))

    def _diagonal_of_broadcast(self, t: Term) -> Term | None:
        """diag(t) where t is a square matrix only by broadcasting (c * M ** 0 for a column or row c, M ** 0 for
        M = diag(v)): the diagonal without the matrix, c as a column, or v ** 0; None otherwise."""
        ones, scale = (t, None) if t.op == "pow" else (t.args[1], t.args[0]) if t.op == "mul" else (t, None)
        if ones.op != "pow" or ones.power != 0:
            return None
        full = self.shape(ones)
        if full is None or len(full) != 2 or full[0] != full[1]:
            return None
        if scale is None:
            inner = ones.args[0]
            return self.pow(inner.args[0], 0.0) if inner.op == "diag" and self.ndim(inner.args[0]) == 1 else None
        shape = self.shape(scale)
        if shape == (full[0], 1):
            return scale
        if shape == (1, full[0]):
            return self.transpose(scale)
        return None

    # ---- cancelling, and what the operands are assumed to be ----

    def _cancelled(self, t: Term) -> Term | None:
        """t, a product and quotient of factors, with each number-valued factor that is both above and below the
        line cancelled (z / z, 2 * z / z: a gradient formula does not hold where z = 0 anyway); None when
        nothing cancels."""
        c, above, below = ratio(t)
        kept_below = list(below)
        kept_above = []
        for factor in above:
            if factor in kept_below and self.is_scalar(factor):
                kept_below.remove(factor)
            else:
                kept_above.append(factor)
        if len(kept_above) == len(above):
            return None
        result = functools.reduce(self.mul, kept_above, const(c))
        return functools.reduce(self.div, kept_below, result)

    def _is(self, kind: str, t: Term) -> bool:
        """Whether operand t is assumed to be of this kind (recorded as used when it is)."""
        if t.op != "var" or t.name not in self.assume:
            return False
        kinds = {self.assume[t.name]} | ({"symmetric"} if self.assume[t.name] in ("spd", "diagonal") else set())
        if kind in kinds:
            self.used[t.name] = self.assume[t.name]
            return True
        return False

    def _symmetric(self, t: Term) -> bool:
        """Tᵀ = t: an operand assumed symmetric (spd, diagonal), the identity, the inverse of a symmetric matrix,
        the diagonal matrix of a vector, and sums, products by a number and elementwise functions of those."""
        if t.op == "var":
            return self._is("symmetric", t)
        if is_identity(t):
            return True
        if t.op == "diag":
            return self.shapes is not None and self.ndim(t.args[0]) == 1
        if t.op in ("inv", "neg", "pow") or (t.op in PRIMITIVES and PRIMITIVES[t.op].elementwise
                                              and PRIMITIVES[t.op].arity == 1):
            return self._symmetric(t.args[0])
        if t.op in ("add", "sub", "mul", "div"):
            return all(is_const(arg) or self._symmetric(arg) for arg in t.args)
        return False

    def _inverses(self, a: Term, b: Term) -> bool:
        """a @ b = I: X⁻¹ @ X and X @ X⁻¹ for a matrix X (not a batch), their transposes, and Qᵀ @ Q, Q @ Qᵀ for
        an operand Q assumed orthogonal."""
        if a.op == "T" and b.op == "T":
            return self._inverses(b.args[0], a.args[0])
        if (a.op == "inv" and a.args[0] == b) or (b.op == "inv" and b.args[0] == a):
            matrix = b if a.op == "inv" else a
            return self.shapes is None or self.ndim(matrix) == 2
        return ((a.op == "T" and a.args[0] == b and self._is("orthogonal", b))
                or (b.op == "T" and b.args[0] == a and self._is("orthogonal", a)))

    def _binary(self, op: str, a: Term, b: Term) -> Term:
        build = {"add": self.add, "sub": self.sub, "mul": self.mul, "div": self.div, "matmul": self.matmul}[op]
        return build(a, b)


def ratio(t: Term) -> tuple[float, list[Term], list[Term]]:
    """t as c · Π above / Π below, over its elementwise products, quotients and signs."""
    if is_const(t):
        return t.value, [], []
    if t.op == "neg":
        c, above, below = ratio(t.args[0])
        return -c, above, below
    if t.op in ("mul", "div"):
        (c1, a1, b1), (c2, a2, b2) = ratio(t.args[0]), ratio(t.args[1])
        if t.op == "mul":
            return c1 * c2, a1 + a2, b1 + b2
        if c2 != 0:
            return c1 / c2, a1 + b2, b1 + a2
    return 1.0, [t], []
