"""Expressions: text such as `tanh(W @ X + b)` parsed into a small graph over named operands, never evaluated.

Python's `ast` reads the text; only a whitelist of node kinds becomes graph nodes (operands, numbers, the
operators + − * / @ **, unary minus, `.T`, and calls of the functions in the table of primitives); the exponent
of ** is a constant, folded when written as arithmetic on numbers (`x ** (1/2)`, `x ** 2 ** 2`). Anything else
is refused with its position marked. The seed's own notation is accepted: `·` for `@`, `⊕` for `+`, `⊙` for `*`,
`ᵀ` for `.T`, `−` for `-`; and Octave's (and matrixcalculus.org's) transpose `X'` for `X.T` (the language has
no strings, so a quote has no other meaning).
"""

from __future__ import annotations

import ast
import math
import operator
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .errors import WxbError
from .nodes import Keyword, Node
from .primitives import PRIMITIVES

__all__ = ["DEFAULT", "DEFAULT_WITHOUT_W", "FUNCTIONS", "Expression", "ExpressionError", "Node", "parse"]

MAX_LENGTH = 10_000
MAX_DEPTH = 200
SHORT_CHAIN = 100  # links of a chain longer than this are labelled by their text as written, not ast.unparse
PRIME = "'"  # Octave's transpose after an operand, a bracket or another prime; elsewhere it opens Python's quote
DEFAULT = "W @ X + b"
DEFAULT_WITHOUT_W = "X + b"


@dataclass(frozen=True)
class Syntax:
    """One operator of the language. node: the Python AST node it is read from; primitive: the row it builds;
    symbol: how wxb writes it; precedence: how tightly it binds (1 + −, 2 * / @, 3 unary minus, 4 **, 5 an atom
    such as x.T); form: infix (x + y), prefix (−x) or postfix (x.T); seed: the seed's notation for it."""

    node: type[ast.AST]
    primitive: str
    symbol: str
    precedence: int
    form: str = "infix"
    seed: tuple[str, ...] = ()

    def written(self, x: str, y: str = "y") -> str:
        """The operator applied: 'x + y', '-x', 'x.T' (y, the right side, only for an infix operator)."""
        if self.form == "prefix":
            return f"{self.symbol}{x}"
        if self.form == "postfix":
            return f"{x}{self.symbol}"
        return f"{x} {self.symbol} {y}"


# The one table of the infix syntax: the parser, the printers and `wxb help operators` read it.
SYNTAX: tuple[Syntax, ...] = (
    Syntax(ast.Add, "add", "+", 1, seed=("⊕",)),
    Syntax(ast.Sub, "sub", "-", 1, seed=("−",)),  # − is the seed's minus, unary too
    Syntax(ast.Mult, "mul", "*", 2, seed=("⊙", "×")),
    Syntax(ast.Div, "div", "/", 2),
    Syntax(ast.MatMult, "matmul", "@", 2, seed=("·",)),
    Syntax(ast.Pow, "pow", "**", 4),
    Syntax(ast.USub, "neg", "-", 3, form="prefix"),
    Syntax(ast.Attribute, "T", ".T", 5, form="postfix", seed=("ᵀ", "′")),
)
OPERATORS = {row.primitive: row for row in SYNTAX}
BINARY = {row.node: row.primitive for row in SYNTAX if row.form == "infix"}
PREFIX = {row.node: row.primitive for row in SYNTAX if row.form == "prefix"}
TRANSPOSE = OPERATORS["T"].symbol
NOTATION = {spelling: row.symbol for row in SYNTAX for spelling in row.seed}
INFIX_TEXT = " ".join(row.symbol for row in SYNTAX if row.form == "infix")  # '+ - * / @ **'
# The functions and the keywords each takes, from the table of primitives.
FUNCTIONS = tuple(name for name, row in PRIMITIVES.items() if row.called)
KEYWORDS = {name: dict(row.keywords) for name, row in PRIMITIVES.items() if row.called}


class ExpressionError(WxbError, ValueError):
    """An expression wxb cannot read: a syntax error, or a construct outside the whitelist, with its place."""


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text as given, its root node, and its operand names in order of appearance."""

    text: str
    root: Node
    operands: tuple[str, ...]

    def nodes(self) -> list[Node]:
        """Every node once, each after its arguments (a topological order, the forward order)."""
        order: list[Node] = []
        seen: set[int] = set()
        stack: list[tuple[Node, bool]] = [(self.root, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in seen:
                continue
            if expanded:
                seen.add(id(node))
                order.append(node)
                continue
            stack.append((node, True))
            stack.extend((arg, False) for arg in reversed(node.args) if id(arg) not in seen)
        return order


def _normalise(text: str) -> tuple[str, list[int]]:
    """The text with the seed's notation replaced, and for each character of it the column in the original."""
    out: list[str] = []
    columns: list[int] = []
    quoted = False
    for column, char in enumerate(text):
        replacement = NOTATION.get(char, char)
        if char == PRIME:
            before = "".join(out).rstrip()
            postfix = not quoted and bool(before) and (before[-1].isalnum() or before[-1] in "_)]" or
                                                       before.endswith(TRANSPOSE))
            quoted = not postfix and not quoted
            replacement = TRANSPOSE if postfix else char
        out.append(replacement)
        columns.extend([column] * len(replacement))
    columns.append(len(text))
    return "".join(out), columns


def _marked(text: str, column: int, context: int = 30) -> str:
    """The text with a marker at column, 'W @ X + ⟨here⟩', shortened to `context` characters each side."""
    column = max(0, min(column, len(text)))
    before, after = text[max(0, column - context):column], text[column:column + context]
    return ("…" if column > context else "") + f"{before}⟨here⟩{after}" + ("…" if len(text) > column + context else "")


class _Builder:
    """Turns a whitelisted Python AST into graph nodes, one shared node per operand name."""

    def __init__(self, original: str, parsed: str, columns: list[int], upstream: bool = False) -> None:
        self.original = original
        self.parsed = parsed
        self.upstream = upstream
        self.lines = parsed.split("\n")
        self.columns = columns
        self.operands: dict[str, Node] = {}

    def offset(self, node: ast.AST, end: bool = False) -> int:
        """Where node starts (or ends) in the parsed text, in characters (ast counts UTF-8 bytes within a line)."""
        line = max(getattr(node, "end_lineno" if end else "lineno", 1) or 1, 1) - 1
        start = sum(len(text) + 1 for text in self.lines[:line])
        here = self.lines[line] if line < len(self.lines) else ""
        in_bytes = getattr(node, "end_col_offset" if end else "col_offset", 0) or 0
        return start + len(here.encode("utf-8")[:in_bytes].decode("utf-8", errors="ignore"))

    def refuse(self, what: str, node: ast.AST, hint: str | None = None) -> ExpressionError:
        """An error marking where node starts in the original text."""
        offset = self.offset(node)
        column = self.columns[min(offset, len(self.columns) - 1)]
        return ExpressionError(f"{what} at column {column + 1} of the expression: {_marked(self.original, column)}",
                               hint=hint)

    def build(self, node: ast.AST, depth: int = 0) -> Node:
        """The graph node for one AST node (refusing whatever is not on the whitelist)."""
        if depth > MAX_DEPTH:
            raise self.refuse(f"the expression nests deeper than {MAX_DEPTH} levels", node,
                              hint="split it into smaller expressions")
        if isinstance(node, ast.Name):
            return self.operand(node)
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node, depth)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner = self.build(node.operand, depth + 1)
            if isinstance(node.op, ast.UAdd):
                return inner
            if inner.op == "const":
                return Node("const", value=-inner.value, text=ast.unparse(node))
            return Node(PREFIX[type(node.op)], (inner,), text=ast.unparse(node))
        if isinstance(node, ast.Attribute):
            if f".{node.attr}" != TRANSPOSE:
                raise self.refuse(f"'.{node.attr}' is not allowed (only {TRANSPOSE}, the transpose)", node)
            return Node("T", (self.build(node.value, depth + 1),), text=ast.unparse(node))
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        kind = _kind(node.op) if isinstance(node, ast.UnaryOp) else _kind(node)
        raise self.refuse(f"{kind} is not allowed in an expression", node,
                          hint=f"use operands, numbers, {INFIX_TEXT}, {TRANSPOSE} and " + ", ".join(FUNCTIONS))

    def operand(self, node: ast.Name) -> Node:
        """The one node of this operand name."""
        if node.id in FUNCTIONS:
            raise self.refuse(f"{node.id!r} is a function: call it, as in {node.id}(X)", node)
        if node.id == "G" and not self.upstream:
            raise self.refuse("'G' is the upstream gradient ∂L/∂f, not an operand of the expression", node,
                              hint="name the operand otherwise")
        if node.id not in self.operands:
            self.operands[node.id] = Node("var", name=node.id, text=node.id)
        return self.operands[node.id]

    def constant(self, node: ast.Constant) -> Node:
        """A real number (int or float; not bool, complex or text)."""
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise self.refuse(f"the constant {node.value!r} is not a real number", node)
        try:
            value = float(node.value)
        except OverflowError:
            raise self.refuse("the constant is too large for a float", node) from None
        return Node("const", value=value, text=ast.unparse(node))

    def binary(self, node: ast.BinOp, depth: int) -> Node:
        """x + y, x − y, x * y, x / y, x @ y, and x ** c for a constant c. A chain a + b + c + … nests only to
        the left: it is walked down its left spine iteratively, and its links are no nesting."""
        spine = [node]
        while isinstance(spine[-1].left, ast.BinOp) and not isinstance(spine[-1].left.op, ast.Pow):
            spine.append(spine[-1].left)
        left = self.build(spine[-1].left, depth + 1)
        for length, link in enumerate(reversed(spine), start=1):
            left = self.link(link, left, depth, length)
        return left

    def link(self, node: ast.BinOp, left: Node, depth: int, length: int) -> Node:
        """One link of a chain, its left side built: left ∘ right, or left ** c."""
        op = BINARY.get(type(node.op))
        if op is None:
            raise self.refuse(f"the operator {_kind(node.op)} is not allowed", node,
                              hint=f"use {INFIX_TEXT.replace(' **', ' or **')} with a constant exponent")
        if op == "pow":
            exponent = self.build(node.right, depth + 1)
            power = _folded(exponent)
            if power is None and any(n.op == "var" for n in Expression("", exponent, ()).nodes()):
                raise self.refuse("the exponent of ** must be a number", node.right,
                                  hint="write x ** 2 or x ** (1/2), not x ** y")
            if power is None:
                raise self.refuse("the exponent of ** has no finite real value", node.right)
            return Node("pow", (left,), power=power, text=self.text(node, length))
        right = self.build(node.right, depth + 1)
        return Node(op, (left, right), text=self.text(node, length))

    def text(self, node: ast.BinOp, length: int) -> str:
        """A link's text (its parts built, so within the nesting limit): as ast.unparse writes it, or as written
        for the links of a long chain, which ast.unparse would recurse through."""
        return ast.unparse(node) if length <= SHORT_CHAIN else self.segment(node)

    def segment(self, node: ast.AST) -> str:
        """The text of node as written (for the links of a long chain, which ast.unparse would recurse through)."""
        return self.parsed[self.offset(node):self.offset(node, end=True)]

    def call(self, node: ast.Call, depth: int) -> Node:
        """f(x) or f(x, y) for a function of the table, with the keywords its row accepts, each at most once."""
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise self.refuse(f"unknown function {name!r}", node, hint="the functions are " + ", ".join(FUNCTIONS))
        name = node.func.id
        arity = PRIMITIVES[name].arity
        if len(node.args) != arity:
            wanted = "one argument" if arity == 1 else f"{arity} arguments"
            raise self.refuse(f"{name}() takes {wanted}, not {len(node.args)}", node)
        accepted = KEYWORDS[name]
        values = dict(accepted)
        given: list[str] = []
        for keyword in node.keywords:
            if keyword.arg is None or keyword.arg not in accepted:
                what = "**" if keyword.arg is None else f"{keyword.arg}="
                takers = [f for f, words in KEYWORDS.items() if keyword.arg in words]
                hint = ("only " + ", ".join(takers) + f" take {keyword.arg}=") if takers else None
                raise self.refuse(f"{name}() takes no keyword {what}", keyword, hint=hint)
            if keyword.arg in given:
                raise self.refuse(f"{name}() is given {keyword.arg}= twice", keyword,
                                  hint=f"give {keyword.arg}= once")
            given.append(keyword.arg)
            values[keyword.arg] = self.keyword_value(keyword.arg, keyword.value, name)
        args = tuple(self.build(arg, depth + 1) for arg in node.args)
        return Node(name, args, keywords=tuple(values.items()), given=frozenset(given), text=ast.unparse(node))

    def keyword_value(self, keyword: str, node: ast.expr, name: str) -> Keyword:
        """keepdims=True or False; axis=K for an integer K (negative counts from the end), or axis=None."""
        if keyword == "keepdims":
            if isinstance(node, ast.Constant) and isinstance(node.value, bool):
                return node.value
            raise self.refuse(f"the keepdims of {name}() must be True or False", node)
        if isinstance(node, ast.Constant) and node.value is None:
            return None
        sign = 1
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            sign, node = -1, node.operand
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
            return sign * node.value
        raise self.refuse(f"the axis of {name}() must be an integer", node)


FOLDED = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}


def _folded(node: Node) -> float | None:
    """The value of a subexpression of numbers only (+ − * / **, unary minus), as an exponent needs it; None when
    it names an operand or has no finite real value (1/0, an overflow, (−8) ** (1/3))."""
    if node.op == "const":
        return node.value
    values = [_folded(arg) for arg in node.args]
    if node.op not in (*FOLDED, "neg", "pow") or any(v is None for v in values):
        return None
    x = [v for v in values if v is not None]
    try:
        value: Any = -x[0] if node.op == "neg" else x[0] ** node.power if node.op == "pow" else FOLDED[node.op](*x)
    except (ZeroDivisionError, OverflowError):
        return None
    return float(value) if isinstance(value, float | int) and math.isfinite(value) else None


def _kind(node: ast.AST) -> str:
    """A readable name for an AST node kind: 'a subscript', 'a lambda'."""
    names = {"Subscript": "a subscript", "Lambda": "a lambda", "ListComp": "a comprehension",
             "GeneratorExp": "a comprehension", "Compare": "a comparison", "BoolOp": "a boolean operator",
             "IfExp": "a conditional", "List": "a list", "Tuple": "a tuple", "Dict": "a dict", "Mod": "%",
             "FloorDiv": "//", "BitXor": "^", "BitAnd": "&", "BitOr": "|", "LShift": "<<", "RShift": ">>",
             "Starred": "a starred argument", "NamedExpr": "an assignment", "JoinedStr": "an f-string",
             "Await": "await", "Invert": "~", "Not": "not"}
    kind = type(node).__name__
    return names.get(kind, kind)


def _complete_with_more(text: str) -> bool:
    """True when text reads once something is added at its end (an operand, or closing parentheses)."""
    for ending in (" 0", ")", "))", ")))", " 0)", " 0))"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse(text.strip() + ending, mode="eval")
            return True
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    return False


@contextmanager
def _recursion_room(frames: int) -> Iterator[None]:
    """Python's parser builds a flat chain of n terms n levels deep, within a multiple of the recursion limit: room
    for the longest chain MAX_LENGTH allows, for as long as ast.parse runs (its own limits refuse real nesting)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, frames))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def parse(text: str, *, upstream: bool = False) -> Expression:
    """The expression graph of `text`; ExpressionError (with the position marked) if it is not one. upstream: G
    is an operand too (the upstream gradient ∂L/∂f in a formula `wxb derive` wrote)."""
    if not text.strip():
        raise ExpressionError("the expression is empty", hint='e.g. -e "tanh(W @ X + b)"')
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is {len(text):,} characters long, over the limit of {MAX_LENGTH:,}")
    normal, columns = _normalise(text)
    try:
        with warnings.catch_warnings(), _recursion_room(MAX_LENGTH):
            warnings.simplefilter("ignore")  # SyntaxWarnings would reach stderr before the one error line
            tree = ast.parse(normal.strip(), mode="eval")
    except SyntaxError as exc:
        if _complete_with_more(normal):
            raise ExpressionError(f"the expression ends too early, at column {len(text.rstrip()) + 1}: "
                                  f"{_marked(text.rstrip(), len(text.rstrip()))}",
                                  hint="something is missing at the end, an operand or a closing parenthesis") from None
        offset = (exc.offset or 1) - 1 + (len(normal) - len(normal.lstrip()))
        column = columns[min(max(offset, 0), len(columns) - 1)]
        reason = (exc.msg or "invalid syntax").removeprefix("invalid syntax. ")
        raise ExpressionError(f"cannot read the expression ({reason}) at column {column + 1}: "
                              f"{_marked(text, column)}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"the expression nests too deeply (more than {MAX_DEPTH} levels)") from None
    except (UnicodeError, ValueError) as exc:
        raise ExpressionError(f"the expression is not valid text ({type(exc).__name__})") from None
    lead = len(normal) - len(normal.lstrip())
    builder = _Builder(text, normal.strip(), columns[lead:], upstream)
    root = builder.build(tree.body)
    return Expression(text, root, tuple(builder.operands))
