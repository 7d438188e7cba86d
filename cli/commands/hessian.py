"""The work behind wxb hessian (and check --order 2): the scalar L of the command line, its gradient formulas, then
H·v, H's blocks and structure, or the curvature summary, handed to a view or a writer."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from ... import core
from ...core import curvature as curv
from ..env import note
from ..errors import InputError
from ..model import Loaded, OutputChoice, Sources
from ..read.operands import refuse_two_readers_of_stdin
from ..write import records
from ..write.output import write_text
from .binding import load, parse_bindings
from .present import descriptive_format, emit, output_format, show, views
from .upstream import check_upstream, held_G, wrt_names

Array = np.ndarray[Any, np.dtype[Any]]

DENSE_LIMIT = 10**7  # entries of H formed at most, as jacobian --dense's default limit


class Request(NamedTuple):
    wrt: str | None
    loss: str | None
    vectors: list[str]
    eig: bool


def loss_of(loaded: Loaded, loss: str | None, names: tuple[str, ...]) -> curv.Curvature:
    """L as the command line has it (f with one entry, --loss, or Σ G ⊙ f for -G) and its gradient formulas; a
    gradient derive cannot write is refused in one line."""
    check_upstream(loaded, loss)
    problem = loaded.problem
    operands = dict(problem.operands)
    given_G = loaded.G is not None and (loss is None or loaded.G_given)
    scalar = all(n == 1 for n in problem.f_shape)
    chosen = None if (scalar and loss is None) or given_G else (loss or "sum")
    if chosen == "mse" and loaded.target is None:
        raise InputError("the mse loss needs a target", hint="give it with -T or --target")
    text, extra = curv.loss_expression(problem.expression.text, chosen, tuple(operands), upstream=given_G,
                                       target=chosen == "mse")
    if extra is not None:
        operands[extra] = np.asarray(held_G(loaded) if given_G else loaded.target, dtype=problem.dtype)
    labels = {} if extra is None else {extra: "G" if given_G else "the target"}
    try:
        return curv.curvature(text, operands, names, labels=labels)
    except curv.DeriveError as exc:
        raise InputError(f"no second derivative: {exc}", hint="hessian differentiates derive's gradient formula; "
                         "wxb backward gives the gradient's values (wxb help functions lists the formulas)") from None


def vectors_of(c: curv.Curvature, given: list[str], sources: Sources) -> dict[str, Array]:
    """--vector NAME=SOURCE: each v read as any operand is, of its operand's shape (a 1-D one as a column)."""
    from ..read.operands import read_operands

    specs = parse_bindings(given)
    for name in specs:
        if name not in c.wrt:
            raise InputError(f"--vector {name}= names no operand differentiated", operand="--vector",
                             hint="differentiate with respect to: " + ", ".join(c.wrt))
    arrays = read_operands(dict(specs), bundle=None, delimiter=sources.delimiter, header=sources.header,
                           labels={name: f"--vector {name}=" for name in specs})
    out: dict[str, Array] = {}
    for name, value in arrays.items():
        v = np.asarray(value, dtype=float)
        if v.size != c.size(name) or (v.shape != c.shape(name) and v.squeeze().shape != np.empty(
                c.shape(name)).squeeze().shape):
            raise InputError(f"v for {name} has shape {core.notation.shape_text(v.shape)}, and {name} "
                             f"{core.notation.shape_text(c.shape(name))}", operand=f"--vector {name}=",
                             hint=f"give v of {name}'s shape")
        out[name] = v.reshape(c.shape(name))
    return out


def hessian(sources: Sources, request: Request, out: OutputChoice) -> None:
    """H·v (--vector), the curvature summary (--eig), or H's blocks and their structure."""
    if request.vectors:
        refuse_two_readers_of_stdin(sources, {f"--vector {name}=": spec for name, spec in
                                              parse_bindings(request.vectors).items()}, "vector")
    loaded = load(sources)
    names, record = wrt_names(loaded, request.wrt)
    c = loss_of(loaded, request.loss, names)
    if request.vectors:
        if request.eig:
            raise InputError("give --vector or --eig, not both", hint="--vector is H·v, --eig H's eigenvalues")
        products = curv.hvp(c, vectors_of(c, request.vectors, sources))
        results = {"Hv" if not record else f"Hv{name}": value for name, value in products.items()}
        emit(results, out, lambda console: views().hessian_vector(console, products, out.precision),
             record=record)
        return
    if request.eig:
        summary(c, out)
        return
    blocks_out(c, out, record)


def refusal(c: curv.Curvature) -> str | None:
    """Why the dense H (n × n) may not be formed here: over DENSE_LIMIT entries, or three copies not in memory;
    None when it may."""
    from ..stores.blocks import available_memory, size_text

    n = sum(c.size(name) for name in c.wrt)
    if n * n > DENSE_LIMIT:
        return f"it is over the limit of {DENSE_LIMIT:,} entries"
    available, source = available_memory()
    if 3 * 8 * n * n > available:
        return f"forming it needs about {size_text(3 * 8 * n * n)}, {size_text(available)} available ({source})"
    return None


def fits(c: curv.Curvature) -> bool:
    """Whether the dense H may be formed."""
    return refusal(c) is None


def too_large(c: curv.Curvature) -> InputError:
    from ..stores.blocks import size_text

    n = sum(c.size(name) for name in c.wrt)
    return InputError(f"H is {n:,} × {n:,} ({size_text(n * n * 8)} as float64): too large to form here: "
                      f"{refusal(c)}", hint="--vector NAME=SOURCE gives H·v, --eig its extreme eigenvalues (Lanczos "
                      "on H·v)")


def dense_blocks(c: curv.Curvature) -> dict[tuple[str, str], Array]:
    """Every block ∂²L/∂θᵢ∂θⱼ, of shape θᵢ.shape + θⱼ.shape."""
    return {(a, b): curv.block(c, a, b, limit=DENSE_LIMIT) for a in c.wrt for b in c.wrt}


def matrix(c: curv.Curvature, blocks: dict[tuple[str, str], Array]) -> Array:
    """H as one (size × size) matrix, the operands' entries in C order, one after the other."""
    return np.block([[blocks[a, b].reshape(c.size(a), c.size(b)) for b in c.wrt] for a in c.wrt])


def labels(c: curv.Curvature) -> list[str]:
    """The row labels of H's matrix: W[0,0], W[0,1], …, b[0], …"""
    out = []
    for name in c.wrt:
        shape = c.shape(name)
        out += [f"{name}[{','.join(map(str, index))}]" if shape else name for index in np.ndindex(*shape)]
    return out


def blocks_out(c: curv.Curvature, out: OutputChoice, record: bool) -> None:
    """H's blocks as data (θᵢ.shape + θⱼ.shape; csv and tsv: the whole matrix), or its structure and matrix."""
    described = out.fmt in ("table", "text") or (out.fmt is None and out.output is not None
                                                   and out.output.suffix == ".txt")
    fmt = descriptive_format(out, ()) if described else output_format(out)
    structures = {(a, b): curv.structure(c, a, b) for a in c.wrt for b in c.wrt if c.wrt.index(b) >= c.wrt.index(a)}
    if fmt in ("table", "text"):
        held = dense_blocks(c) if fits(c) else None
        flat = None if held is None else matrix(c, held)
        show(fmt, out, lambda console: views().hessian(console, c, structures, flat, labels(c), out.precision))
        return
    if not fits(c):
        raise too_large(c)
    held = dense_blocks(c)
    if fmt in ("csv", "tsv"):
        emit({"H": matrix(c, held)}, out, None)
        return
    results = {f"{a},{b}": value for (a, b), value in held.items()} if len(c.wrt) > 1 else {"H": held[c.wrt[0],
                                                                                                     c.wrt[0]]}
    emit(results, out, None, record=len(c.wrt) > 1)


def summary(c: curv.Curvature, out: OutputChoice) -> None:
    """The extreme eigenvalues, the definiteness at this point and the condition number."""
    if fits(c):
        spectrum = curv.dense_spectrum(matrix(c, dense_blocks(c)), labels(c))
    else:
        try:
            spectrum = curv.spectrum(c)
        except ImportError:
            raise InputError("H is too large to form here, and its Lanczos summary needs SciPy",
                             hint="pip install 'wxb[curvature]' (in a checkout: pip install '.[curvature]')") from None
        except curv.NoConvergenceError as exc:
            raise InputError(str(exc), hint=f"H formed densely gives every eigenvalue (eigvalsh), and {refusal(c)}: "
                             "free memory, or take fewer operands (--wrt); --vector NAME=SOURCE gives H·v") from None
    fmt = descriptive_format(out, ("json",))
    if fmt == "json":
        if spectrum.condition == math.inf:
            note("the condition number is infinite (H is singular at this point): JSON writes it as null", "warning")
        write_text(records.json_text({"smallest": spectrum.smallest, "largest": spectrum.largest,
                                      "definiteness": spectrum.definiteness, "condition": spectrum.condition,
                                      "size": spectrum.size, "method": spectrum.method}), out.output)
        return
    show(fmt, out, lambda console: views().curvature(console, spectrum, out.precision))


def hvp_check(loaded: Loaded, loss: str | None, wrt: str | None, out: OutputChoice) -> bool:
    """check --order 2: H·v against central differences of the engine's gradient along v; True when they agree."""
    from ...core import gradcheck

    names, _ = wrt_names(loaded, wrt)
    c = loss_of(loaded, loss, names)
    rng = np.random.default_rng(0)
    vectors = {name: rng.standard_normal(c.shape(name)) for name in c.wrt}
    problem, active = curv.pairing(c, vectors)
    report = gradcheck.check_problem(problem, None, active)
    from .work import CHECK_WRITERS

    which = f"H·v for L = {c.loss}, v random (seed 0): checked as the gradient of ⟨∇L, v⟩"
    fmt = descriptive_format(out, tuple(CHECK_WRITERS))
    if fmt in ("table", "text"):
        show(fmt, out, lambda console: views().check(console, report, out.precision, which))
    else:
        write_text(CHECK_WRITERS[fmt](report, which), out.output)
    return report.passed
