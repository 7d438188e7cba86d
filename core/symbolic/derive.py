"""The gradient as a formula: reverse mode over an expression's graph, done symbolically, in wxb's own language.

    derivation = derive(parse("sum((W @ X + b - Y) ** 2)"), {"W": (3, 4), "X": (4, 5), "b": (3,), "Y": (3, 5)})
    derivation.text("W")      # '2 * (W @ X + b - Y) @ X.T'

Each primitive's VJP is a template in the expression language, kept in its row of the table of primitives
(`PRIMITIVES[op].formulas`, one per argument, read as autograd's numpy_vjps.py): G is the upstream gradient,
x and y the arguments, f the primitive's value, p the exponent of ** and q = p − 1, n the count of entries a
mean averages. Four pseudo-functions stand for what depends on shapes: expand(G) puts a reduced gradient back
along the reduced axes, keep_sum(t) sums t along the primitive's axis keeping it, full(G) is G in f's own shape
and eye(x) the identity of x's last two axes. A function called in a template works along the primitive's own
axis (softmax(x) in logsumexp's), or along its own default in a row without one (cross_entropy's). A row with
no formula says why (`no_formula`), and derive refuses in one line.

The terms are built by smart constructors that simplify as a person writes: no `* 1` and no G where G = 1,
constants folded and moved to the front, (Aᵀ)ᵀ = A, transposes moved onto the operands ((A @ B).T = B.T @ A.T),
x + x = 2 * x, P @ x + Q @ x = (P + Q) @ x, exp(log_softmax(z)) = softmax(z). Where the operands' shapes are
known, a gradient is summed back to a broadcast operand's shape once (`sum(G, axis=1)` for a column bias), as
`unbroadcast` does with numbers, and a gradient constant along an axis (G = 1 from a sum) stays small: a number,
a row or a column that broadcasts, summed out of a matrix product where it meets one (1 @ X.T is written
sum(X, axis=1).T). With names only, operands are taken as matrices and none as broadcast (Derivation.assumed
says which were taken so). Repeated subexpressions are named once (z1, z2, …: Derivation.where). Pure: no I/O.

Formulas are written for the engine they run on: a reduction with axis= keeps that axis (so a row bias's
gradient is `sum(G, axis=0)`, no .T), and a 1-D operand is a column on either side of @ (`G @ x.T`).
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..errors import ShapeError, WxbError
from ..expr import Expression, Node
from ..nodes import depends_on
from ..notation import shape_text
from ..primitives import PRIMITIVES
from ..shapes import Shape, aligned, as_matrix_shape, resolved_axis
from .naming import shared
from .shaped import Writer
from .terms import ONE, ZERO, DeriveError, Term, const, is_const, term_of, terms_of, text, uses, var


@functools.cache
def _template(source: str) -> ast.expr:
    return ast.parse(source, mode="eval").body


@functools.cache
def _names(source: str) -> frozenset[str]:
    """Every name a template uses, its functions' included."""
    return frozenset(tree.id for tree in ast.walk(_template(source)) if isinstance(tree, ast.Name))


def _default_axis(op: str) -> int | str | None:
    """The axis a function takes when none is written ('' for a function without an axis)."""
    keywords = dict(PRIMITIVES[op].keywords) if op in PRIMITIVES else {}
    axis = keywords.get("axis", "")
    return "" if isinstance(axis, bool) else axis


def instantiate(source: str, env: Mapping[str, Term], node: Node, writer: Writer) -> Term:
    """A template with G, x, y, f, p, q, n bound, built with the writer's simplifications (expand, keep_sum, full
    and eye written out for the node's shapes)."""

    def build(tree: ast.expr) -> Term:
        if isinstance(tree, ast.Name):
            return env[tree.id]
        if isinstance(tree, ast.Constant) and isinstance(tree.value, int | float):
            return const(float(tree.value))
        if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, ast.USub):
            return writer.neg(build(tree.operand))
        if isinstance(tree, ast.Attribute) and tree.attr == "T":
            return writer.transpose(build(tree.value))
        if isinstance(tree, ast.BinOp):
            left = build(tree.left)
            if isinstance(tree.op, ast.Pow):
                exponent = build(tree.right)
                return writer.pow(left, exponent.value)
            op = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.MatMult: "matmul"}
            return writer._binary(op[type(tree.op)], left, build(tree.right))
        if isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name):
            args = tuple(build(arg) for arg in tree.args)
            if tree.func.id == "expand":
                return writer.expanded(args[0], node, env["x"])
            if tree.func.id == "keep_sum":
                x_shape = writer.shape(env["x"])
                return writer.summed(args[0], resolved_axis(node, len(x_shape) if x_shape is not None else 2), x_shape)
            if tree.func.id == "full":
                return writer.full(args[0], env["f"])
            if tree.func.id == "eye":
                return writer.eye(args[0], node)
            own = _default_axis(tree.func.id)
            if own == "" or _default_axis(node.op) == "":  # no axis, or a row without one: the function's own
                return writer.call(tree.func.id, args)
            same = node.default_axis and own == _default_axis(node.op)
            return writer.call(tree.func.id, args, axis=node.axis, default_axis=same)
        raise AssertionError(f"template construct {ast.dump(tree)}")

    return build(_template(source))



@dataclass(frozen=True)
class Derivation:
    """dL/dθ for each operand asked for, as terms: formulas (every subexpression written out), and the same with
    repeated subexpressions named (named, in terms of the where bindings, each in terms of earlier ones)."""

    expression: Expression
    formulas: Mapping[str, Term]
    named: Mapping[str, Term]
    where: tuple[tuple[str, Term], ...]
    upstream: bool
    f_shape: Shape | None
    assumed: tuple[str, ...]
    used: Mapping[str, str] = field(default_factory=dict)

    def text(self, name: str) -> str:
        """dL/d(name), every subexpression written out: what `wxb forward -e` evaluates."""
        return text(self.formulas[name])

    def named_text(self, name: str) -> str:
        """dL/d(name) in terms of the where bindings."""
        return text(self.named[name], self._names())

    def where_text(self) -> list[tuple[str, str]]:
        """The where bindings as (name, formula) pairs, each in terms of the earlier ones."""
        names: dict[Term, str] = {}
        lines = []
        for label, term in self.where:
            lines.append((label, text(term, names)))
            names[term] = label
        return lines

    def _names(self) -> dict[Term, str]:
        return {term: label for label, term in self.where}


def derive(expression: Expression, shapes: Mapping[str, Shape] | None = None, wrt: Iterable[str] | None = None, *,
           seed: Term | None = None, share: bool = True, assume: Mapping[str, str] | None = None) -> Derivation:
    """dL/dθ for each operand θ in wrt (default: all) as formulas in the expression language. shapes: every
    operand's shape, or None (names only: no operand taken to be broadcast). The upstream gradient ∂L/∂f is the
    operand G, or `seed` (ONE for L = sum(f)); G = 1 when f is a scalar or has one entry
    (the 1×1 quadratic form x.T @ A @ x: L = f, as backward has it). share: name repeated subexpressions.
    assume: what operands are (symmetric, spd, diagonal, orthogonal), for the simplifier (Derivation.used says
    which it relied on: x.T @ A @ x with A symmetric gives 2 * A @ x)."""
    names = tuple(expression.operands) if wrt is None else tuple(wrt)
    order = expression.nodes()
    terms = terms_of(order)
    root = expression.root
    writer = Writer(None if shapes is None else {**shapes}, assume=dict(assume or {}))
    f_shape = writer.shape(terms[id(root)]) if shapes is not None else None
    scalar = all(n == 1 for n in f_shape) if f_shape is not None else _scalar(expression)
    if seed is None:
        seed = ONE if scalar else var("G")
    if shapes is not None and seed.op == "var":
        writer.shapes = {**shapes, seed.name: f_shape or ()}
    active = depends_on(order, set(names))
    adjoints: dict[int, Term] = {id(root): seed}
    assumed: list[str] = []
    for node in reversed(order):
        if node.op in ("var", "const") or id(node) not in adjoints:
            continue
        g = adjoints.pop(id(node))
        for index, arg in enumerate(node.args):
            if id(arg) not in active:
                continue
            grad = _edge(writer, node, index, g, terms, assumed)
            if is_const(grad, 0):
                continue
            adjoints[id(arg)] = writer.add(adjoints[id(arg)], grad) if id(arg) in adjoints else grad
    operand_nodes = {node.name: node for node in order if node.op == "var"}
    formulas = {name: adjoints.get(id(operand_nodes[name]), ZERO) if name in operand_nodes else ZERO
                for name in names}
    named, where = shared(formulas, set(expression.operands)) if share else (formulas, ())
    return Derivation(expression, formulas, named, where, any(uses(t, "G") for t in formulas.values()), f_shape,
                      tuple(dict.fromkeys(assumed)), dict(writer.used))


def formula(node: Node, index: int) -> str:
    """The row's template for ∂L/∂(argument index), or a DeriveError saying why the row has none."""
    row = PRIMITIVES[node.op]
    if row.no_formula:
        raise DeriveError(f"cannot write the gradient through {node.text}: {row.no_formula}",
                          hint="wxb backward gives its values")
    if len(row.formulas) != row.arity:
        raise DeriveError(f"{node.op} has no gradient formula yet", hint="wxb backward gives its values")
    return row.formulas[index]


def _edge(writer: Writer, node: Node, index: int, g: Term, terms: Mapping[int, Term], assumed: list[str]) -> Term:
    """The gradient along one edge (node → its argument `index`), summed to the argument's shape."""
    row = PRIMITIVES[node.op]
    source = formula(node, index)
    x = terms[id(node.args[0])]
    env = {"G": g, "f": terms[id(node)], "x": x, "p": const(node.power), "q": const(node.power - 1)}
    if len(node.args) > 1:
        env["y"] = terms[id(node.args[1])]
    if "n" in _names(source):
        env["n"] = _count(writer, node, x)
    if row.unsummed is not None:
        _batched_vector(writer, node, x, env["y"])
    grad = instantiate(source, env, node, writer)
    if row.elementwise and writer.shapes is not None and not _broadcasts(writer, grad):
        env["G"] = writer.full(g, env["f"])  # a kept G beside an argument broadcast along another axis: G whole
        grad = instantiate(source, env, node, writer)
    arg = terms[id(node.args[index])]
    if row.elementwise and len(node.args) == 2:
        own, other, full = writer.shape(arg), writer.shape(terms[id(node.args[1 - index])]), writer.shape(env["f"])
        if own is None or other is None or full is None:
            if arg.op == "var":
                assumed.append(arg.name)
            return grad
        return writer.reduced_to(grad, aligned(own, other), full)
    if row.unsummed is not None:  # a matrix product or solve: summed over the batch axes its argument was
        return _batch_edge(writer, grad, arg)  # broadcast along
    if "full" in _names(source):
        _own_shape(writer, node, index, grad, arg)
    return grad


def _broadcasts(writer: Writer, t: Term) -> bool:
    """Whether t's parts broadcast as the engine allows (no outer sum: a reduced G, kept (1, m, n), beside an
    argument broadcast along another axis, (k, m, 1), would enlarge both)."""
    try:
        writer.shape(t)
    except ShapeError:
        return False
    return True


def _own_shape(writer: Writer, node: Node, index: int, grad: Term, arg: Term) -> None:
    """A formula written with full(G) (and not summed over batch axes afterwards) has its argument's own shape
    (a 1-D one as a column); one that does not (diag's of a batch or a non-square matrix) would broadcast
    wrongly, and is refused."""
    own, got = writer.shape(arg), writer.shape(grad)
    if own is None or got is None or as_matrix_shape(own) == as_matrix_shape(got) or own == got:
        return
    raise DeriveError(f"the gradient of {node.text} with respect to {node.args[index].text} {shape_text(own)} is "
                      f"not a formula of wxb's language (it would need G placed on a diagonal of shape "
                      f"{shape_text(own)}, or axes inserted)", hint="wxb backward gives its values")


def _batched_vector(writer: Writer, node: Node, x: Term, y: Term) -> None:
    """Refuse a batch @ (or solve with) a 1-D right operand: G lacks the axis np.matmul (np.linalg.solve) dropped,
    and the language cannot put it back. (A 1-D left operand is a column, whatever the batch: its formulas hold.)"""
    if writer.ndim(y) == 1 and writer.ndim(x) >= 3:
        what, by, op = ("multiplies", "by", "@") if PRIMITIVES[node.op].product else ("solves", "with", node.op)
        raise DeriveError(f"{node.text} {what} a batch {by} a 1-D operand: its gradient formula would need the "
                          f"axis {op} dropped put back",
                          hint="give the 1-D operand as a matrix with one column")


def _batch_edge(writer: Writer, grad: Term, arg: Term) -> Term:
    """A matrix product's (or solve's) gradient summed over the batch axes its argument was broadcast along
    (a 1-D argument is a column)."""
    own, full = writer.shape(arg), writer.shape(grad)
    if own is None or full is None or len(full) < 2:
        return grad
    own2 = as_matrix_shape(own) if own else own
    if len(own2) < 2:
        return grad
    if len(full) > len(own2) or any(o == 1 != n for o, n in zip(own2[-len(full):], full, strict=False)):
        try:
            return writer.reduced_to(grad, own2, full)
        except ShapeError:  # the batch sum of a gradient whose shape the formula does not carry whole
            raise DeriveError(f"the gradient with respect to {text(arg)} sums a batch product over its batch, "
                              "which derive cannot write when f sums the batch away too",
                              hint="wxb backward gives its values; derive writes it for the product alone (in "
                                   "terms of G)") from None
    return grad


def _count(writer: Writer, node: Node, x: Term) -> Term:
    """How many entries a mean averages: a number when shapes are known, else sum(x ** 0) along its axis."""
    shape = writer.shape(x)
    if shape is None:
        return Term("sum", (writer.pow(x, 0.0),), axis=node.axis, default_axis=node.default_axis)
    axis = resolved_axis(node, len(shape))
    return const(max(math.prod(shape) if axis is None else shape[axis], 1))


def _scalar(expression: Expression) -> bool:
    """With names only, f is a scalar when it is one with every operand a matrix (what names only assume): a
    number, a reduction over every axis, a determinant, or elementwise of those."""
    writer = Writer({name: (2, 2) for name in expression.operands})
    try:
        return writer.shape(term_of(expression.root)) == ()
    except WxbError:
        return False
