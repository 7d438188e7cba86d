"""The engine against independent oracles, on random expression trees and on hand-worked cases.

Random trees (depth ≤ 4) are generated top-down from the shape each node must have, so every tree is valid:
elementwise operations take one argument of the result's shape and one that broadcasts to it (a suffix with
sizes set to 1, a 1-D column (m,), a scalar or a constant), `@` gets matching inner sizes and broadcast batch
axes, reductions get an axis inserted. Shapes include 0-size axes, 1-D operands and 3-D batches; dtypes float64
and float32. log, sqrt, / and fractional powers only see positive values (exp(e), abs(e) + 0.5, sigmoid(e) + 0.5
or a positive operand); examples with a relu/abs argument within 1e-3 of its kink are skipped.

For every operand: (a) forward and gradient agree with HIPS autograd running the same tree (the 1-D column rule
applied explicitly), (b) the VJP agrees with central finite differences of the engine's own forward (float64),
(c) Jᵀ·vec G agrees with the VJP, J the dense Jacobian from autograd.jacobian (small sizes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from primitive_cases import ALONG, BINARY, CASES, EMPTY_REDUCTIONS, POSITIVE, REDUCTIONS, UNARY, resolved

from wxb.core.engine import Problem
from wxb.core.errors import BiasEnlargesError, ShapeError, WxbError

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log(0) of empty axes etc.: not the contract

Shape = tuple[int, ...]
NAMES = ("W", "X", "b", "A", "B", "C", "x", "y", "z", "W1", "b2", "T", "H", "K", "U", "V")
# The rows the generator shapes by hand; the others it draws from the rows and their entries (tests/primitive_cases.py).
SHAPED = ("matmul", "T", "trace", "det", "logdet", "inv", "solve", "diag")


# ---- Trees: a node knows its shape, renders as text and evaluates with autograd.numpy ----

@dataclass
class Tree:
    op: str
    shape: Shape
    args: tuple[Tree, ...] = ()
    name: str = ""
    value: float = 0.0
    axis: int | str | None = "default"  # "default": no axis= written
    power: float = 1.0
    keepdims: bool | None = None  # None: no keepdims= written

    def text(self) -> str:
        if self.op == "var":
            return self.name
        if self.op == "const":
            return repr(self.value) if self.value >= 0 else f"({self.value!r})"
        a = [arg.text() for arg in self.args]
        if self.op in ("add", "sub", "mul", "div", "matmul"):
            symbol = {"add": "+", "sub": "-", "mul": "*", "div": "/", "matmul": "@"}[self.op]
            return f"({a[0]} {symbol} {a[1]})"
        if self.op == "neg":
            return f"(-{a[0]})"
        if self.op == "pow":
            return f"({a[0]} ** {self.power!r})"
        if self.op == "T":
            return f"{a[0]}.T"
        axis = "" if self.axis == "default" else f", axis={self.axis}"
        keep = "" if self.keepdims is None else f", keepdims={self.keepdims}"
        return f"{self.op}({', '.join(a)}{axis}{keep})"


def evaluate(tree: Tree, env: dict[str, Any], kinks: list[np.ndarray] | None = None) -> Any:
    """The tree's value, computed independently with autograd.numpy (differentiable by autograd)."""
    op = tree.op
    if op == "var":
        return env[tree.name]
    if op == "const":
        return anp.array(tree.value)
    xs = [evaluate(arg, env, kinks) for arg in tree.args]
    entry = CASES[op]
    if kinks is not None and entry.kink:
        kinks.append(kink_distance(tree, entry.kink, xs, entry.oracle(tree, *xs)))
    return entry.oracle(tree, *xs)


def kink_distance(tree: Tree, kind: str, xs: list[Any], value: Any) -> np.ndarray:
    """How far the example is from the row's kink: its argument or value from 0 (relu, abs, sign; ‖x‖ = 0, where
    autograd's gradient is nan and wxb's 0), or the gap between the two largest (or smallest) entries (max, min)."""
    if kind == "argument":
        return np.asarray(xs[0], dtype=np.float64)
    if kind == "value":
        return np.asarray(value, dtype=np.float64)
    x = np.asarray(xs[0], dtype=np.float64)
    axis = resolved(tree, x.ndim)
    top = np.sort(x.reshape(-1) if axis is None else np.moveaxis(x, axis, -1), axis=-1)
    if top.shape[-1] <= 1:
        return np.ones(())
    return top[..., -1] - top[..., -2] if kind == "top tie" else top[..., 1] - top[..., 0]


# ---- The generator: top-down from the shape each node must have ----

@dataclass
class Generator:
    draw: Any
    operands: dict[str, Shape] = field(default_factory=dict)
    positives: set[str] = field(default_factory=set)
    conditioned: set[str] = field(default_factory=set)

    def size(self) -> int:
        return self.draw(st.sampled_from([1, 2, 3, 2, 3, 1, 2, 0]))

    def shape(self, ndim: int) -> Shape:
        return tuple(self.size() for _ in range(ndim))

    def root(self, shape: Shape) -> Tree:
        return self.node(shape, self.draw(st.sampled_from([4, 3, 4, 2, 3, 1])), leaf_ok=False)

    def leaf(self, shape: Shape, *, positive: bool = False, conditioned: bool = False) -> Tree:
        if shape == () and not conditioned and self.draw(st.integers(0, 3)) == 0:
            value = self.draw(st.sampled_from([0.5, 1.5, 2.0, 3.0] if positive else [0.5, -1.5, 2.0, -0.75, 3.0]))
            return Tree("const", (), value=value)
        pool = self.conditioned if conditioned else (self.positives if positive else set(self.operands))
        same = [n for n, s in self.operands.items() if s == shape and n in pool]
        if same and self.draw(st.integers(0, 2)) == 0:
            return Tree("var", shape, name=self.draw(st.sampled_from(same)))
        name = NAMES[len(self.operands)] if len(self.operands) < len(NAMES) else f"v{len(self.operands)}"
        self.operands[name] = shape
        if positive:
            self.positives.add(name)
        if conditioned:
            self.conditioned.add(name)
        return Tree("var", shape, name=name)

    def positive_node(self, shape: Shape, depth: int) -> Tree:
        """A subtree whose values are > 0 (and not tiny): the argument of log, sqrt, a denominator."""
        if depth <= 1:
            return self.leaf(shape, positive=True)
        kind = self.draw(st.sampled_from(["exp", "abs", "sigmoid", "leaf"]))
        if kind == "leaf":
            return self.leaf(shape, positive=True)
        inner = self.node(shape, depth - 2 if kind != "exp" else depth - 1)
        if kind == "exp":
            return Tree("exp", shape, (Tree("tanh", shape, (inner,)),)) if depth > 2 else Tree("exp", shape, (inner,))
        return Tree("add", shape, (Tree(kind, shape, (inner,)), Tree("const", (), value=0.5)))

    def square_node(self, shape: Shape, depth: int) -> Tree:
        """A well-conditioned square matrix (or batch): a diagonally dominant operand (3·I + U(−½, ½)), now and
        then plus 0.1·tanh of any subtree, which keeps it dominant."""
        base = self.leaf(shape, conditioned=True)
        if depth <= 1 or self.draw(st.booleans()):
            return base
        small = Tree("mul", shape, (Tree("const", (), value=0.1), Tree("tanh", shape, (self.node(shape, depth - 1),))))
        return Tree("add", shape, (base, small))

    def node(self, shape: Shape, depth: int, *, leaf_ok: bool = True) -> Tree:
        if depth <= 0 or (leaf_ok and self.draw(st.integers(0, 6)) == 6):
            return self.leaf(shape)
        kinds = ["unary", "positive", "binary", "binary", "matmul", "transpose", "reduce", "matrix"]
        if shape:
            kinds.append("along")
        kind = self.draw(st.sampled_from(kinds))
        return getattr(self, kind)(shape, depth - 1)

    def power(self, op: str, domain: str) -> float:
        """The exponent of ** in this domain (1 for a row without one)."""
        powers = CASES[op].powers.get(domain)
        return self.draw(st.sampled_from(powers)) if powers else 1.0

    def unary(self, shape: Shape, depth: int) -> Tree:
        op = self.draw(st.sampled_from(UNARY))
        return Tree(op, shape, (self.node(shape, depth),), power=self.power(op, "real"))

    def positive(self, shape: Shape, depth: int) -> Tree:
        op = self.draw(st.sampled_from(POSITIVE))
        return Tree(op, shape, (self.positive_node(shape, depth),), power=self.power(op, "positive"))

    def small_shape(self, shape: Shape) -> Shape:
        """A shape that broadcasts to `shape` without enlarging it, under the column convention."""
        if len(shape) >= 1 and self.draw(st.integers(0, 3)) == 0:
            return (self.draw(st.sampled_from([shape[-2] if len(shape) >= 2 else shape[0], 1])),)
        ndim = self.draw(st.integers(0, len(shape)))
        if ndim == 1 and len(shape) >= 2:
            ndim = 2  # a 1-D argument beside a matrix is a column, handled above
        suffix = shape[len(shape) - ndim:]
        return tuple(1 if self.draw(st.booleans()) else n for n in suffix)

    def binary(self, shape: Shape, depth: int) -> Tree:
        op = self.draw(st.sampled_from(BINARY))
        small = self.small_shape(shape)
        full_left = self.draw(st.booleans())
        if "positive" in CASES[op].domains:  # a denominator: its right argument > 0
            if full_left:
                return Tree(op, shape, (self.node(shape, depth), self.positive_node(small, depth)))
            return Tree(op, shape, (self.node(small, depth), self.positive_node(shape, depth)))
        big, little = self.node(shape, depth), self.node(small, depth)
        return Tree(op, shape, (big, little) if full_left else (little, big))

    def matmul(self, shape: Shape, depth: int) -> Tree:
        """Products giving `shape`; a 1-D operand is a column on either side: (m,) @ (1, n) is an outer product,
        (m,) @ (1,) a column times a 1×1."""
        k = self.size()
        if len(shape) == 0:
            return self.unary(shape, depth)
        if len(shape) == 1:
            left, right = ((shape[0], k), (k,)) if self.draw(st.booleans()) else ((shape[0],), (1,))
        elif len(shape) == 2 and self.draw(st.integers(0, 3)) == 0:
            left, right = ((*shape, k), (k,)) if self.draw(st.booleans()) else ((shape[0],), (1, shape[1]))
        else:
            *batch, m, n = shape
            left, right = (*batch, m, k), (*batch, k, n)
            if batch:
                choice = self.draw(st.sampled_from(["both", "left2d", "right2d", "left1", "right1", "left1d"]))
                if choice == "left2d":
                    left = (m, k)
                elif choice == "right2d":
                    right = (k, n)
                elif choice == "left1":
                    left = (1, m, k)
                elif choice == "right1":
                    right = (1, k, n)
                elif choice == "left1d":
                    left, right = (m,), (*batch, 1, n)
        return Tree("matmul", shape, (self.node(left, depth), self.node(right, depth)))

    def transpose(self, shape: Shape, depth: int) -> Tree:
        if len(shape) == 1:  # no transpose gives a vector: a 1-D operand is a column, its transpose a row
            return self.node(shape, depth)
        inner = shape if not shape else (*shape[:-2], shape[-1], shape[-2])
        if len(shape) == 2 and shape[0] == 1 and self.draw(st.booleans()):
            inner = (shape[1],)  # a 1-D column transposed is a (1, m) row
        return Tree("T", shape, (self.node(inner, depth),))

    def matrix(self, shape: Shape, depth: int) -> Tree:
        """trace, det, logdet, inv, solve and diag, batched over leading axes, with 1-D operands as columns."""
        choices = ["trace", "trace", "diag"]
        if len(shape) <= 2:
            choices += ["det", "logdet", "det", "logdet"]
        if (len(shape) >= 2 and shape[-1] == shape[-2]) or shape == (1,):
            choices.append("inv")
        if shape:
            choices.append("solve")
        op = self.draw(st.sampled_from(choices))
        if op == "trace":
            if len(shape) > 2:
                return self.unary(shape, depth)
            arg = (self.size(),) if not shape and self.draw(st.integers(0, 4)) == 0 else (*shape, self.size(),
                                                                                       self.size())
            return Tree(op, shape, (self.node(arg, depth),))
        if op in ("det", "logdet"):
            n = self.draw(st.sampled_from([1, 2, 3, 0] if op == "det" else [1, 2, 3]))
            arg = (1,) if not shape and n == 1 and self.draw(st.booleans()) else (*shape, n, n)
            return Tree(op, shape, (self.square_node(arg, depth),))
        if op == "inv":
            return Tree(op, shape, (self.square_node(shape, depth),))
        if op == "solve":
            n = shape[0] if len(shape) == 1 else shape[-2]
            batch = shape[:-2] if len(shape) >= 2 else ()
            carrier = self.draw(st.sampled_from(["a", "b", "both"])) if batch else "both"
            a = (*(batch if carrier != "b" else ()), n, n)
            b_shape = shape if carrier != "a" else shape[-2:]
            return Tree(op, shape, (self.square_node(a, depth), self.node(b_shape, depth)))
        if len(shape) == 2 and shape[0] == shape[1] and self.draw(st.booleans()):
            return Tree(op, shape, (self.node((shape[0],), depth),))  # a vector to its diagonal matrix
        if not shape or len(shape) > 3:
            return self.unary(shape, depth)
        extra = self.draw(st.sampled_from([0, 1, 2]))
        rows, cols = (shape[-1] + extra, shape[-1]) if self.draw(st.booleans()) else (shape[-1], shape[-1] + extra)
        return Tree(op, shape, (self.node((*shape[:-1], rows, cols), depth),))

    def reduce(self, shape: Shape, depth: int) -> Tree:
        """A reduction giving `shape`: over every axis (a scalar, or all ones with keepdims=True), or along one
        axis, kept with size 1 (the default, or keepdims=True) or dropped (keepdims=False)."""
        ones = [a for a, n in enumerate(shape) if n == 1]
        keepdims: bool | None = None
        if shape == () and self.draw(st.booleans()):
            arg_shape = self.shape(self.draw(st.integers(0, 3)))
            axis: int | str | None = self.draw(st.sampled_from(["default", None]))
            reduced_size = math.prod(arg_shape)
        elif shape and len(ones) == len(shape) and len(shape) <= 3 and self.draw(st.integers(0, 3)) == 0:
            arg_shape = self.shape(len(shape))
            axis, keepdims = None, True
            reduced_size = math.prod(arg_shape)
        elif ones and len(shape) <= 3 and self.draw(st.booleans()):
            position = self.draw(st.sampled_from(ones))
            reduced_size = self.size()
            arg_shape = (*shape[:position], reduced_size, *shape[position + 1:])
            negative = position - len(arg_shape)
            axis = self.draw(st.sampled_from([position, negative]))
            keepdims = self.draw(st.sampled_from([None, None, True]))
        else:
            if len(shape) >= 3:
                return self.unary(shape, depth)
            position = self.draw(st.integers(0, len(shape)))
            reduced_size = self.size()
            arg_shape = (*shape[:position], reduced_size, *shape[position:])
            negative = position - len(arg_shape)
            axis = position if negative == -2 and len(arg_shape) == 1 else self.draw(st.sampled_from([position,
                                                                                                       negative]))
            keepdims = False
        op = self.draw(st.sampled_from(EMPTY_REDUCTIONS if reduced_size == 0 else REDUCTIONS))
        if keepdims is None and axis in ("default", None) and shape != ():
            keepdims = True
        return Tree(op, shape, (self.node(arg_shape, depth),), axis=axis, keepdims=keepdims)

    def along(self, shape: Shape, depth: int) -> Tree:
        op = self.draw(st.sampled_from(ALONG))
        choices: list[int | str | None] = ["default", "default", None, *range(len(shape)),
                                           *(a for a in range(-len(shape), 0) if not (a == -2 and len(shape) == 1))]
        return Tree(op, shape, (self.node(shape, depth),), axis=self.draw(st.sampled_from(choices)))


@dataclass
class Case:
    tree: Tree
    operands: dict[str, np.ndarray]
    G: np.ndarray
    dtype: Any

    @property
    def text(self) -> str:
        return self.tree.text()


@st.composite
def cases(draw: st.DrawFn, dtypes: tuple[Any, ...] = (np.float64, np.float32)) -> Case:
    gen = Generator(draw)
    shape = gen.shape(draw(st.sampled_from([0, 1, 2, 3, 2, 3, 4])))  # now and then two batch axes
    tree = gen.root(shape)
    assume(gen.operands)
    dtype = draw(st.sampled_from(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    operands = {}
    for name, s in gen.operands.items():
        values = rng.uniform(0.5, 2.0, s) if name in gen.positives else rng.uniform(-2.0, 2.0, s)
        if name in gen.conditioned:  # diagonally dominant, so det, inv, solve and logdet are well-conditioned
            values = rng.uniform(-0.5, 0.5, s) + 3 * (np.eye(s[-1]) if len(s) >= 2 else np.ones(s))
        scalar_f64 = dtype == np.float32 and s == () and draw(st.booleans())  # a 0-d float64 does not count
        operands[name] = np.asarray(values, dtype=np.float64 if scalar_f64 else dtype)
    if all(a.ndim == 0 for a in operands.values()):  # no operand with an axis: then every float one counts
        dtype = np.float32 if all(a.dtype == np.float32 for a in operands.values()) else np.float64
    G = np.asarray(rng.uniform(-1.0, 1.0, shape), dtype=dtype)
    return Case(tree, operands, G, dtype)


def oracle_inputs(case: Case) -> dict[str, np.ndarray]:
    """The operands as the engine sees them (rounded to the computation dtype), in float64 for the oracle."""
    return {n: np.asarray(a.astype(case.dtype), dtype=np.float64) for n, a in case.operands.items()}


def well_posed(case: Case) -> dict[str, np.ndarray]:
    """Skip examples near a kink or with values too large to compare; return the oracle inputs."""
    env = oracle_inputs(case)
    kinks: list[np.ndarray] = []
    with np.errstate(all="ignore"):
        f = np.asarray(evaluate(case.tree, env, kinks))
    assume(np.all(np.isfinite(f)) and np.all(np.abs(f) < 1e4))
    assume(all(np.all(np.abs(k) > 1e-3) for k in kinks))
    return env


def oracle_loss(case: Case, names: tuple[str, ...], env: dict[str, np.ndarray]) -> Any:
    G = np.asarray(case.G, dtype=np.float64)

    def loss(values: tuple[Any, ...]) -> Any:
        return anp.sum(G * evaluate(case.tree, {**env, **dict(zip(names, values, strict=True))}))
    return loss


def close(actual: np.ndarray, expected: np.ndarray, rtol: float, what: str, scale: float = 1.0) -> None:
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    size = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=rtol,
                               atol=rtol * max(1.0, size, scale), err_msg=what)


# ---- (a) forward and every gradient against autograd ----

@settings(max_examples=600, deadline=None)
@given(cases())
def test_forward_and_gradients_agree_with_autograd(case: Case) -> None:
    env = well_posed(case)
    before = {name: a.copy() for name, a in case.operands.items()}
    for a in case.operands.values():
        a.setflags(write=False)  # the engine never writes its operands
    problem = Problem.build(case.text, case.operands)
    assert problem.dtype == case.dtype, case.text
    f = problem.forward()
    expected_f = np.asarray(evaluate(case.tree, env))
    assert f.dtype == case.dtype and problem.f_shape == case.tree.shape == f.shape, case.text
    rtol = 1e-9 if case.dtype == np.float64 else 1e-3
    close(f, expected_f, rtol, f"f of {case.text}")
    grads = problem.backward(case.G)
    names = tuple(case.operands)
    expected = autograd.grad(oracle_loss(case, names, env))(tuple(env[n] for n in names))
    scale = float(np.sum(np.abs(case.G * expected_f))) if expected_f.size else 1.0
    for name, want in zip(names, expected, strict=True):
        got = grads[name]
        assert got.shape == case.operands[name].shape and got.dtype == case.dtype, (case.text, name)
        close(got, want, rtol if case.dtype == np.float64 else 1e-3, f"d{name} of {case.text}",
              scale=scale if case.dtype == np.float32 else 1.0)
        assert grads.describe(name)
    assert set(grads.keyed()) == {f"d{n}" for n in names}
    one = names[-1]
    alone = problem.backward(case.G, wrt=[one])  # a subset computes only what it needs: the same numbers
    assert list(alone.grads) == [one]
    np.testing.assert_array_equal(alone[one], grads[one])
    kept = problem.backward(case.G, keep=True)
    for name in names:
        np.testing.assert_array_equal(kept[name], grads[name])
    np.testing.assert_array_equal(problem.forward(), f)
    for name, a in case.operands.items():
        np.testing.assert_array_equal(a, before[name])


# ---- (b) the VJP against central finite differences of the engine's forward ----

@settings(max_examples=300, deadline=None)
@given(cases(dtypes=(np.float64,)))
def test_vjp_agrees_with_finite_differences(case: Case) -> None:
    well_posed(case)
    problem = Problem.build(case.text, case.operands)
    expression = problem.expression
    grads = Problem.build(expression, case.operands).backward(case.G)
    h = 1e-6

    def loss(operands: dict[str, np.ndarray]) -> float:
        return float(np.sum(case.G * Problem.build(expression, operands).forward()))

    magnitude = abs(loss(case.operands)) + float(np.sum(np.abs(case.G)))
    for name, value in case.operands.items():
        numeric = np.zeros(value.shape)
        for index in np.ndindex(value.shape):
            up, down = value.copy(), value.copy()
            up[index] += h
            down[index] -= h
            numeric[index] = (loss({**case.operands, name: up}) - loss({**case.operands, name: down})) / (2 * h)
        scale = max(1.0, float(np.max(np.abs(numeric))) if numeric.size else 0.0)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-5 * scale + 1e-9 * magnitude,
                                   err_msg=f"d{name} of {case.text}")
        if problem.linear_in(name):  # then ∂f/∂θ does not depend on θ: the same gradient elsewhere
            elsewhere = {**case.operands, name: value + np.random.default_rng(0).normal(size=value.shape)}
            moved = Problem.build(expression, elsewhere).backward(case.G)[name]
            np.testing.assert_allclose(moved, grads[name], rtol=1e-9, atol=1e-9 * scale,
                                       err_msg=f"{case.text} is not linear in {name}")


# ---- (c) Jᵀ·vec G against the VJP, J dense from autograd.jacobian ----

@settings(max_examples=300, deadline=None)
@given(cases())
def test_jacobian_transpose_times_G_is_the_vjp(case: Case) -> None:
    env = well_posed(case)
    grads = Problem.build(case.text, case.operands).backward(case.G)
    G = np.asarray(case.G, dtype=np.float64)
    rtol = 1e-9 if case.dtype == np.float64 else 1e-3
    for name, value in env.items():
        if value.size == 0 or G.size == 0:
            assert not np.any(grads[name]), name  # nothing flows: a zero gradient
            continue
        if value.size * G.size > 600:
            continue

        def f_of(theta: Any, name: str = name) -> Any:
            return evaluate(case.tree, {**env, name: theta})

        J = np.asarray(autograd.jacobian(f_of)(value))
        assert J.shape == G.shape + value.shape
        JtG = np.tensordot(G, J, axes=G.ndim) if G.ndim else G * J
        scale = float(np.sum(np.abs(J))) if case.dtype == np.float32 else 1.0
        close(grads[name], JtG, rtol, f"Jᵀ·G for d{name} of {case.text}", scale=scale)


# ---- Hand-worked cases ----

SEED = {"W": np.eye(2), "X": np.array([[1.0, 2.0], [3.0, 4.0]]), "b": np.array([5.0, 6.0])}


def test_seed_example() -> None:
    problem = Problem.build("W @ X + b", SEED)
    np.testing.assert_array_equal(problem.forward(), [[6.0, 7.0], [9.0, 10.0]])
    grads = problem.backward(1)
    np.testing.assert_array_equal(grads["b"], [2.0, 2.0])
    np.testing.assert_array_equal(grads["W"], [[3.0, 7.0], [3.0, 7.0]])  # G·Xᵀ with G = 1
    np.testing.assert_array_equal(grads["X"], [[1.0, 1.0], [1.0, 1.0]])  # Wᵀ·G
    assert list(grads.keyed()) == ["dW", "dX", "db"]
    assert grads.describe("b") == "G summed over axis 1, kept as a column: dL/db = G·1"
    assert problem.linear_in("b") and problem.linear_in("W") and problem.linear_in("X")


def test_seed_wrt_subset_and_G_required() -> None:
    problem = Problem.build("W @ X + b", SEED)
    assert list(problem.backward(np.ones((2, 2)), wrt=["b"]).grads) == ["b"]
    assert list(problem.backward(np.ones((2, 2)), wrt="all").grads) == ["W", "X", "b"]
    with pytest.raises(WxbError, match="upstream gradient"):
        problem.backward()
    with pytest.raises(ShapeError):
        problem.backward(np.ones((2, 3)))
    with pytest.raises(WxbError, match="'Q'"):
        problem.backward(1, wrt=["Q"])


def softmax_columns(z: list[list[float]]) -> list[list[float]]:
    """Softmax of each column, by hand."""
    rows, cols = len(z), len(z[0])
    out = [[0.0] * cols for _ in range(rows)]
    for k in range(cols):
        total = sum(math.exp(z[i][k]) for i in range(rows))
        for i in range(rows):
            out[i][k] = math.exp(z[i][k]) / total
    return out


def test_cross_entropy_gradient_wrt_b() -> None:
    W = [[0.5, -1.0], [2.0, 0.25], [-0.5, 1.0]]
    X = [[1.0, -2.0, 0.5, 0.0], [0.5, 1.5, -1.0, 2.0]]
    b = [0.1, -0.2, 0.3]
    T = [[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0]]  # one-hot columns
    z = [[sum(W[i][j] * X[j][k] for j in range(2)) + b[i] for k in range(4)] for i in range(3)]
    S = softmax_columns(z)
    loss = -sum(T[i][k] * math.log(S[i][k]) for i in range(3) for k in range(4))
    db = [sum(S[i]) - sum(T[i]) for i in range(3)]  # softmax(z)·1 − T·1
    dW = [[sum((S[i][k] - T[i][k]) * X[j][k] for k in range(4)) for j in range(2)] for i in range(3)]
    problem = Problem.build("-sum(T * log_softmax(W @ X + b))", {"W": W, "X": X, "b": b, "T": T})
    assert problem.f_shape == ()
    assert problem.forward() == pytest.approx(loss, rel=1e-12)
    grads = problem.backward()  # a scalar f: G = 1
    np.testing.assert_allclose(grads["b"], db, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads["W"], dW, rtol=1e-12, atol=1e-15)
    assert sum(db) == pytest.approx(0.0, abs=1e-12)


def test_two_layer_network() -> None:
    rng = np.random.default_rng(7)
    W1, b1 = rng.normal(size=(4, 3)), rng.normal(size=4)
    W2, b2 = rng.normal(size=(2, 4)), rng.normal(size=(2, 1))
    X, G = rng.normal(size=(3, 5)), rng.normal(size=(2, 5))
    H = np.tanh(W1 @ X + b1[:, None])
    dH = W2.T @ G
    dZ1 = dH * (1 - H**2)
    expected = {"W2": G @ H.T, "W1": dZ1 @ X.T, "X": W1.T @ dZ1, "b1": dZ1.sum(axis=1), "b2": G.sum(axis=1,
                                                                                                 keepdims=True)}
    problem = Problem.build("W2 @ tanh(W1 @ X + b1) + b2", {"W2": W2, "W1": W1, "X": X, "b1": b1, "b2": b2})
    np.testing.assert_allclose(problem.forward(), W2 @ H + b2, rtol=1e-12)
    grads = problem.backward(G)
    assert list(grads.grads) == ["W2", "W1", "X", "b1", "b2"]
    for name, want in expected.items():
        np.testing.assert_allclose(grads[name], want, rtol=1e-12, atol=1e-14, err_msg=name)
    assert not problem.linear_in("W1") and problem.linear_in("W2") and problem.linear_in("b2")


def test_operand_used_twice_sums_both_contributions() -> None:
    X = np.array([[1.0, -2.0], [3.0, 0.5]])
    G = np.array([[1.0, 2.0], [-1.0, 0.5]])
    grads = Problem.build("X * X", {"X": X}).backward(G)
    np.testing.assert_array_equal(grads["X"], 2 * X * G)
    assert "sums the 2 places X is used" in grads.describe("X")
    W = np.array([[2.0, 1.0], [0.0, -1.0]])
    grads = Problem.build("W @ X + X", {"W": W, "X": X}).backward(G)
    np.testing.assert_allclose(grads["X"], W.T @ G + G, rtol=1e-15)
    np.testing.assert_allclose(grads["W"], G @ X.T, rtol=1e-15)
    grads = Problem.build("X @ X.T", {"X": X}).backward(G)
    np.testing.assert_allclose(grads["X"], G @ X + G.T @ X, rtol=1e-15)


def test_float32_stays_float32_beside_a_0d_scalar() -> None:
    W = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    X = np.array([[0.5, -1.0], [2.0, 1.0]], dtype=np.float32)
    for c in (np.float64(0.5), np.array(0.5), 0.5, 2, True):
        problem = Problem.build("tanh(W @ X) * c + 1.5", {"W": W, "X": X, "c": c})
        assert problem.dtype == np.float32
        assert problem.forward().dtype == np.float32
        grads = problem.backward(np.ones((2, 2)))  # a float64 G does not promote the gradients
        assert all(g.dtype == np.float32 for g in grads.grads.values())
        assert grads["c"].shape == ()
        assert problem.forward() == pytest.approx(np.tanh(W.astype(np.float64) @ X) * float(c) + 1.5, rel=1e-6)
    b64 = np.array([1.0, 2.0])
    assert Problem.build("W @ X + b", {"W": W, "X": X, "b": b64}).dtype == np.float64
    assert Problem.build("W @ X + b", {"W": W, "X": X, "b": b64}, weak=("b",)).dtype == np.float32
    assert Problem.build("W @ X + b", {"W": W, "X": X.astype(int), "b": b64.astype(np.float32)}).dtype == np.float32


def test_G_scalar_broadcasts() -> None:
    problem = Problem.build("relu(W @ X + b)", SEED)
    scalar = problem.backward(2.5)
    full = problem.backward(np.full((2, 2), 2.5))
    for name in ("W", "X", "b"):
        np.testing.assert_array_equal(scalar[name], full[name])
    np.testing.assert_array_equal(scalar["b"], [5.0, 5.0])
    assert Problem.build("sum(X)", {"X": SEED["X"]}).backward()["X"].tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_large_magnitudes_stay_finite() -> None:
    """softmax, log_softmax, logsumexp and sigmoid at ±1000: exact values from the shifted formulas, no overflow."""
    x = np.array([1000.0, 1001.0, -1000.0])
    e = math.exp(-1.0)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        s = Problem.build("softmax(x)", {"x": x}).forward()
        np.testing.assert_allclose(s, [e / (1 + e), 1 / (1 + e), 0.0], rtol=1e-12, atol=0)
        ls = Problem.build("log_softmax(x)", {"x": x}).forward()
        np.testing.assert_allclose(ls, [-1 - math.log1p(e), -math.log1p(e), -2001 - math.log1p(e)], rtol=1e-13)
        problem = Problem.build("logsumexp(x)", {"x": x})
        assert problem.forward() == pytest.approx(1001 + math.log1p(e), rel=1e-15)
        np.testing.assert_allclose(problem.backward()["x"], [e / (1 + e), 1 / (1 + e), 0.0], rtol=1e-12)
        sig = Problem.build("sigmoid(x)", {"x": x})
        np.testing.assert_array_equal(sig.forward(), [1.0, 1.0, 0.0])
        np.testing.assert_array_equal(sig.backward(np.ones(3))["x"], [0.0, 0.0, 0.0])


def test_outer_sum_refused() -> None:
    with pytest.raises(BiasEnlargesError, match=r"\(4,1\).*\(1,4\)"):
        Problem.build("a + b", {"a": np.ones((4, 1)), "b": np.ones((1, 4))})
    with pytest.raises(BiasEnlargesError):
        Problem.build("X + b", {"X": np.ones((2, 3)), "b": np.ones((4, 1, 1))})


def test_bare_operand_gradient_is_G() -> None:
    """f = X is the identity in X: dL/dX = G."""
    G = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(Problem.build("X", {"X": np.zeros(3)}).backward(G)["X"], G)


def test_power_zero_has_zero_gradient_at_zero() -> None:
    """d(x⁰)/dx = 0 everywhere (autograd gives 0 at x = 0 too), not 0·0⁻¹ = nan."""
    with np.errstate(all="ignore"):
        grad = Problem.build("sum(x ** 0)", {"x": np.array([0.0, 1.0])}).backward()["x"]
    np.testing.assert_array_equal(grad, [0.0, 0.0])


@pytest.mark.parametrize("function", ["sum", "mean", "logsumexp"])
def test_explicit_axis_minus_2_of_a_vector_is_out_of_range(function: str) -> None:
    """Only softmax's default axis (−2) means axis 0 for a 1-D argument; an explicit axis=-2 of a vector does
    not exist (np.sum(np.ones(3), axis=-2) raises)."""
    with pytest.raises(ShapeError, match="out of range"):
        Problem.build(f"{function}(x, axis=-2)", {"x": np.ones(3)})


@pytest.mark.parametrize("expression", ["sqrt(relu(A))", "sqrt(abs(A))"])
def test_a_mask_gradient_is_zero_where_the_function_is_flat_even_under_an_infinite_slope(expression: str) -> None:
    # PyTorch's semantics: relu'(x) and sign(x) are masks, so an infinite upstream slope (sqrt' at 0) meets a 0
    # of the mask as 0, not as 0·∞ = NaN.
    problem = Problem.build(expression, {"A": np.array([-1.0, 0.0, 4.0]) if "abs" in expression else
                                         np.array([-1.0, 4.0])})
    expected = [-0.5, 0.0, 0.25] if "abs" in expression else [0.0, 0.25]
    np.testing.assert_array_equal(problem.backward(np.ones(problem.f_shape))["A"], expected)


def test_a_flat_relu_under_a_product_keeps_every_other_entry_finite() -> None:
    problem = Problem.build("sum(sqrt(relu(W @ X)))", {"W": np.array([[1.0, 0.0], [0.0, 1.0]]),
                                                       "X": np.array([[-1.0, 4.0], [1.0, 1.0]])})
    grads = problem.backward(None)
    assert np.isfinite(grads["W"]).all() and np.isfinite(grads["X"]).all()
    np.testing.assert_array_equal(grads["X"], [[0.0, 0.25], [0.5, 0.5]])
