"""`wxb derive`: each gradient as a formula in wxb's own expression language, from shapes, names or data.

Operands are given as shapes (`W=3x4`, `b=3`, `s=()` for a scalar), as data (any operand source, `-W`, `--from`),
or not at all (names only: the formulas take no operand to be broadcast, and say so on stderr). `--eval` needs
data and prints each gradient's values after its formula.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ... import core
from ...core import symbolic
from ...core.notation import shape_text
from ...core.primitives import PRIMITIVES
from ...core.symbolic import Derivation, Term
from ..env import note
from ..errors import InputError
from ..model import Loaded, OutputChoice, Sources
from ..show.diagnosis import nonfinite_warnings
from ..show.formula_latex import WRITERS, assuming
from ..write.output import json_document, write_text
from .binding import OTHER_SIZES, assumptions, load, parse_bindings, sized, sizes_text
from .present import descriptive_format, show

Array = np.ndarray[Any, np.dtype[Any]]
SHAPE = re.compile(r"\s*(?:\(\s*\)|\d+(?:\s*[x×]\s*\d+)*)\s*")
FORMATS = ("json", "markdown", "latex", "numpy")


def shape_of(spec: str) -> tuple[int, ...] | None:
    """A shape spec as a shape: '3x4' → (3, 4), '3' → (3,), '()' → (); None when spec is not a shape."""
    if not SHAPE.fullmatch(spec):
        return None
    return tuple(int(n) for n in re.split(r"[x×]", spec.strip())) if "(" not in spec else ()


@dataclass(frozen=True)
class Request:
    """What derive was asked: the gradients (--wrt), the loss that gives G, and how to show them."""

    wrt: str | None
    loss: str | None
    inline: bool
    evaluate: bool
    order: int = 1
    assume: Sequence[str] = ()


def derive(sources: Sources, request: Request, out: OutputChoice) -> None:
    """dL/dθ for each operand asked for, as formulas (and with --eval, their values)."""
    fmt = descriptive_format(out, FORMATS)
    given = sources
    sources, chosen = with_sizes(sources, request.loss)
    expression = core.parse(sources.expr if sources.expr is not None else default_expression(sources))
    shapes, loaded = operand_shapes(expression, sources, request.evaluate)
    if loaded is not None:
        expression = loaded.problem.expression  # from the data: W @ X + b, or X + b when no W was bound
        given_data(loaded)
    names = wrt_names(expression, request.wrt)
    assumed = assumptions(request.assume, expression)
    derivation = symbolic.derive(expression, shapes, names, seed=seed(expression, shapes, request.loss),
                                 assume=assumed)
    if chosen:
        refuse_sized(derivation, shapes, chosen, given, request, names)
    unused = [f"{name}={kind}" for name, kind in assumed.items() if name not in derivation.used]
    if unused:
        note(f"--assume {', '.join(unused)}: no formula here is simpler for it")
    if derivation.assumed:
        note(f"no shapes given: {', '.join(derivation.assumed)} taken to have the shape of what "
             f"{'it is' if len(derivation.assumed) == 1 else 'they are'} combined with, so nothing is summed over a "
             "broadcast axis; give shapes (b=3, W=3x4) for those sums")
    values, failed = evaluated(derivation, loaded, request.loss) if loaded is not None and request.evaluate else ({},
                                                                                                                {})
    for line in nonfinite_warnings({f"dL/d{name}": v for name, v in values.items()}, loaded.problem if loaded else None,
                                   {"G": loaded.G} if loaded else None):
        note(line, "warning")
    if loaded is not None:
        for line in unheld_lines(derivation, loaded, values, failed):
            note(line, "warning")
    if request.order == 2:
        second_order(derivation, shapes, names, fmt, request, out)
        return
    lines = formula_lines(derivation, request.inline)
    if fmt == "json":
        write_text(json_record(derivation, values), out.output)
    elif fmt == "numpy":
        from ...core.symbolic.numpy_code import numpy_code

        write_text(numpy_code(derivation, shapes), out.output)
    elif fmt in ("markdown", "latex"):
        write_text(WRITERS[fmt](derivation, request.inline, values, out.precision), out.output)
    elif fmt == "table" or values:
        if derivation.used:
            note(assuming(derivation).capitalize())
        show(fmt, out, lambda console: draw(console, derivation, lines, values, out.precision))
    else:
        said = f"# {assuming(derivation)}\n" if derivation.used else ""
        write_text(said + "".join(f"{label} = {formula}\n" for label, formula in lines), out.output)


def refuse_sized(derivation: Derivation, shapes: Mapping[str, tuple[int, ...]] | None, chosen: Mapping[str, int],
                 given: Sources, request: Request, names: tuple[str, ...]) -> None:
    """Symbolic sizes stand for any sizes, and derive writes sizes only as numbers: the formulas derived again at
    other sizes must read the same, else a constant in them (a mean's 1/N, a sum of ones) is a size, refused."""
    symbolic_bindings = SEED_SIZES if _nothing(given) else given.bindings or []
    other = shapes_at(given._replace(bindings=symbolic_bindings), OTHER_SIZES)
    twin = symbolic.derive(derivation.expression, other, names, seed=seed(derivation.expression, other, request.loss),
                           assume=assumptions(request.assume, derivation.expression))
    for name in names:  # the formulas printed: the gradient's, or with --order 2 the Hessian's action alone
        if request.order == 2:
            label = f"d²L/d{name}² · V"
            first = second_formulas(derivation, shapes, (name,), request)[1][name][0]
            second = second_formulas(twin, other, (name,), request)[1][name][0]
        else:
            label, first, second = f"dL/d{name}", derivation.text(name), twin.text(name)
        if first != second:
            concrete = sized(symbolic_bindings)[0] or []
            example = next((f"{b} for {a}" for a, b in zip(symbolic_bindings, concrete, strict=True) if a != b), "")
            raise InputError(f"{label} depends on the sizes (a constant in it is one), and derive writes sizes "
                             f"only as numbers: at {sizes_text(chosen)} it is {first}",
                             hint=f"give the sizes as numbers ({example})")


def shapes_at(sources: Sources, sizes: tuple[int, ...]) -> Mapping[str, tuple[int, ...]]:
    """The operands' shapes with the symbolic sizes of `sources` made these `sizes`."""
    bindings, _ = sized(sources.bindings, sizes)
    at = sources._replace(bindings=bindings)
    expression = core.parse(at.expr if at.expr is not None else default_expression(at))
    shapes, _ = operand_shapes(expression, at, False)
    assert shapes is not None  # symbolic sizes are shapes
    return shapes


def _nothing(sources: Sources) -> bool:
    return sources.expr is None and not sources.bindings and sources.bundle is None and \
        not any(sources.shorthands.values()) and sources.G is None


def second_order(derivation: Derivation, shapes: Mapping[str, tuple[int, ...]] | None, names: tuple[str, ...],
                 fmt: str, request: Request, out: OutputChoice) -> None:
    """d²L/dθ² · V for each θ: the gradient formula of sum(dL/dθ * V) with respect to θ (derive of derive); a
    Hessian that is constant says so."""
    if derivation.upstream:
        raise InputError("the Hessian is of a scalar L, and this f has more than one entry",
                         hint="give --loss sum or --loss mean, or an expression with one entry")
    if fmt not in ("text", "table", "json") or request.evaluate:
        raise InputError("derive --order 2 writes text or json, without --eval", operand="--order",
                         hint="wxb hessian --vector NAME=SOURCE gives the values of H·v")
    vector, found = second_formulas(derivation, shapes, names, request)
    if fmt == "json":
        write_text(json_document({f"d²L/d{name}² · {vector}": {"formula": formula, "constant": constant}
                                  for name, (formula, constant) in found.items()}), out.output)
        return
    write_text("".join(f"d²L/d{name}² · {vector} = {formula}\n" + (
        f"  (constant: the Hessian in {name} does not depend on {', '.join(names)})\n" if constant else "")
        for name, (formula, constant) in found.items()), out.output)


def second_formulas(derivation: Derivation, shapes: Mapping[str, tuple[int, ...]] | None, names: tuple[str, ...],
                    request: Request) -> tuple[str, dict[str, tuple[str, bool]]]:
    """V's name, and for each θ: the formula of d²L/dθ² · V and whether it is constant."""
    from ...core.curvature import fresh

    vector = fresh("V", tuple(derivation.expression.operands))
    assumed = assumptions(request.assume, derivation.expression)
    found: dict[str, tuple[str, bool]] = {}
    for name in names:
        pairing = core.parse(f"sum(({derivation.text(name)}) * {vector})")
        more = None if shapes is None else {**shapes, vector: shapes[name]}
        term = symbolic.derive(pairing, more, [name], share=False, assume=assumed).formulas[name] if (
            name in pairing.operands) else (
            symbolic.derive(core.parse("0 * " + vector), more, [vector]).formulas[vector])
        formula = symbolic.text(term)
        found[name] = (formula, not any(re.search(rf"\b{n}\b", formula) for n in names))
    return vector, found


# ---- Operands: shapes, names or data ----

def operand_shapes(expression: core.Expression, sources: Sources,
                   evaluate: bool) -> tuple[dict[str, tuple[int, ...]] | None, Loaded | None]:
    """Every operand's shape (None for names only), and the loaded data when the operands are data."""
    specs = parse_bindings(sources.bindings)
    given = {**specs, **{name: spec for name, spec in sources.shorthands.items() if spec is not None}}
    shapes = {name: shape_of(spec) for name, spec in given.items()}
    as_shapes = {name: shape for name, shape in shapes.items() if shape is not None}
    if len(as_shapes) < len(given) or sources.bundle is not None:
        if as_shapes:
            raise InputError(f"{', '.join(as_shapes)} given as a shape and other operands as data",
                             hint="give every operand as a shape (W=3x4, b=3) or every one as data")
        loaded = load(sources)
        return {name: a.shape for name, a in loaded.problem.operands.items()}, loaded
    if evaluate:
        raise InputError("--eval needs the operands' values", operand="--eval",
                         hint="give them as data (W=w.csv, -X x.npy, --from bundle.npz), not as shapes")
    if not as_shapes:
        return None, None
    missing = [name for name in expression.operands if name not in as_shapes]
    if missing:
        raise InputError(f"no shape for {', '.join(missing)}", hint="give every operand's shape (W=3x4, b=3, "
                         "s=() for a scalar), or none for names only")
    zeros = {name: np.broadcast_to(np.zeros(()), shape) for name, shape in as_shapes.items()}
    problem = core.Problem.build(expression, zeros)  # the shapes checked as every command checks them
    return {name: a.shape for name, a in problem.operands.items()}, None


def wrt_names(expression: core.Expression, wrt: str | None) -> tuple[str, ...]:
    """The operands to differentiate with respect to (--wrt: all, or names; default every operand)."""
    names = [name.strip() for name in (wrt or "all").split(",") if name.strip()]
    if not names:
        raise InputError("--wrt needs operand names or all", hint="e.g. --wrt all or --wrt W,b")
    if not expression.operands:
        raise InputError(f"f = {expression.text} has no operands to differentiate with respect to")
    if "all" in names:
        return expression.operands
    for name in names:
        if name not in expression.operands:
            raise InputError(f"{name} is not an operand of {expression.text}", operand="--wrt",
                             hint="choose from " + ", ".join(expression.operands))
    return tuple(name for name in expression.operands if name in names)


SEED_SIZES = ["W=mxk", "X=kxn", "b=m"]  # the seed's f = W·X ⊕ b: b a column, one value per row of W·X


def with_sizes(sources: Sources, loss: str | None) -> tuple[Sources, dict[str, int]]:
    """Symbolic sizes (W=mxk, b=m) made concrete (the formulas must not depend on them: refuse_sized), and the
    sizes chosen; with nothing given at all, the seed's own sizes, so that `wxb derive` answers
    dL/db = sum(G, axis=1) as the seed asked."""
    bindings, chosen = sized(SEED_SIZES if _nothing(sources) else sources.bindings)
    if chosen and loss == "mean":
        raise InputError("--loss mean divides by f's size, which symbolic sizes do not give", operand="--loss",
                         hint="give numbers (W=3x4), or --loss sum")
    return sources._replace(bindings=bindings), chosen


def given_data(loaded: Loaded) -> None:
    """Refuse what derive cannot use: an operand T that f does not read (derive has no --loss mse, so no target),
    and a -G without f's shape (checked as backward checks it, also without --eval)."""
    if loaded.target is not None:
        raise InputError(f"{loaded.target_label} is not an operand of f = {loaded.problem.expression.text}",
                         operand=loaded.target_label, hint="derive has no --loss mse; -T binds an operand T of -e")
    if loaded.G is not None:
        loaded.problem.upstream(loaded.G)


def default_expression(sources: Sources) -> str:
    """W @ X + b, or X + b when operands are given without W (as the other commands read -X and -b alone)."""
    bound = {name for name, given in sources.shorthands.items() if given is not None}
    bound |= {binding.partition("=")[0] for binding in sources.bindings or []}
    return core.DEFAULT_WITHOUT_W if bound and "W" not in bound and sources.bundle is None else core.DEFAULT


def seed(expression: core.Expression, shapes: Mapping[str, tuple[int, ...]] | None, loss: str | None) -> Term | None:
    """∂L/∂f as a term: None (G, or 1 for a scalar f), 1 for L = sum(f), 1/N for L = mean(f)."""
    if loss == "sum":
        return symbolic.ONE
    if loss == "mean":
        if shapes is None:
            raise InputError("--loss mean needs f's size", operand="--loss", hint="give the operands' shapes")
        f_shape = symbolic.Writer(shapes).shape(symbolic.term_of(expression.root)) or ()
        return symbolic.const(1 / max(int(np.prod(f_shape)), 1))
    return None


def evaluated(derivation: Derivation, loaded: Loaded, loss: str | None) -> tuple[dict[str, Array], dict[str, str]]:
    """Each formula's value, computed by the engine from the operands (and G), in its operand's shape; and for
    each formula that has no value here (a matrix it inverts is singular), why."""
    operands = dict(loaded.problem.operands)
    if derivation.upstream:
        if loaded.G is None:
            raise InputError("--eval needs G = ∂L/∂f, which the formulas use",
                             hint="give -G, or --loss sum for L = Σ f")
        operands["G"] = loaded.problem.upstream(loaded.G)
    values, failed = {}, {}
    for name in derivation.formulas:
        formula = core.parse(derivation.text(name), upstream=True)
        try:
            value = core.Problem.build(formula, {n: operands[n] for n in formula.operands}).forward()
        except core.SingularMatrixError as exc:
            failed[name] = str(exc)
            continue
        values[name] = symbolic.shaped_like(value, operands[name].shape).astype(loaded.problem.dtype)
    return values, failed


def unheld_lines(derivation: Derivation, loaded: Loaded, values: Mapping[str, Array],
                 failed: Mapping[str, str]) -> list[str]:
    """Where a formula does not hold at the operands' values: it needs a singular matrix's inverse, or it gives
    NaN (0/0) from operands and G that hold none; each pointing to backward, whose rules hold there."""
    given = [*loaded.problem.operands.values(), *([loaded.G] if loaded.G is not None else [])]
    nan_given = any(np.isnan(np.asarray(a)).any() for a in given)
    exact = [PRIMITIVES[node.op].exact.format(x=node.args[0].text, f=node.text)
             for node in loaded.problem.order if node.op in PRIMITIVES and PRIMITIVES[node.op].exact]
    there = f" ({'; '.join(exact)})" if exact else ""
    lines = [f"dL/d{name} = {derivation.text(name)} does not hold at a singular matrix ({why}); wxb backward gives "
             f"dL/d{name}{there}" for name, why in failed.items()]
    lines += [f"dL/d{name} = {derivation.text(name)} does not hold where it gives NaN (0/0 at a point it excludes); "
              f"wxb backward gives dL/d{name} there{there}"
              for name, value in values.items() if not nan_given and np.isnan(np.asarray(value)).any()]
    return lines


# ---- Views ----

def formula_lines(derivation: Derivation, inline: bool) -> list[tuple[str, str]]:
    """(label, formula) lines: the where bindings first (unless inline), then dL/dθ for each operand."""
    if inline:
        return [(f"dL/d{name}", derivation.text(name)) for name in derivation.formulas]
    return [*derivation.where_text(), *((f"dL/d{name}", derivation.named_text(name)) for name in derivation.formulas)]


def draw(console: Any, derivation: Derivation, lines: list[tuple[str, str]], values: Mapping[str, Array],
         precision: int) -> None:
    """The formulas for a person: bound names dim, each gradient bold; then the values, if evaluated."""
    from rich.text import Text

    from ..show import render

    for label, formula in lines:
        style = "bold" if label.startswith("dL/d") else "dim"
        console.print(Text.assemble((label, style), " = ", formula), soft_wrap=True)
    if derivation.upstream and not values:
        shape = "" if derivation.f_shape is None else f", of f's shape {shape_text(derivation.f_shape)}"
        console.print(Text(f"G = ∂L/∂f{shape}", style="dim"))
    for name, value in values.items():
        console.print(render.array_view(value, f"dL/d{name}", precision=precision, width=console.width))


def json_record(derivation: Derivation, values: Mapping[str, Array]) -> str:
    """{"dW": formula written out, …, "where": {"z": …}, "using_where": {"dW": …}} (and "values" with --eval)."""
    record: dict[str, Any] = {f"d{name}": derivation.text(name) for name in derivation.formulas}
    record["where"] = dict(derivation.where_text())
    record["using_where"] = {f"d{name}": derivation.named_text(name) for name in derivation.formulas}
    if derivation.used:
        record["assuming"] = dict(derivation.used)
    if values:
        record["values"] = {f"d{name}": np.asarray(v, dtype=float).tolist() for name, v in values.items()}
    return json_document(record)
