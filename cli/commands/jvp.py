"""The work behind `wxb jvp`: the operands bound as forward binds them, each --tangent NAME=SOURCE read as an operand
is and checked against its operand, then forward mode (wxb.core.forward_mode) in memory, df (and f) written as
forward writes f, and a note for each node the tangent passed at a kink."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import core
from ...core import forward_mode
from ..env import note
from ..errors import InputError
from ..model import Loaded, OutputChoice, Sources
from ..read.operands import read_operands, refuse_two_readers_of_stdin
from .binding import load, parse_bindings
from .present import emit, output_format, views
from .upstream import refuse_target
from .work import small

Array = np.ndarray[Any, np.dtype[Any]]
RECORDS = ("json", "npz", "zarr")  # formats that always hold f beside df


def jvp(sources: Sources, tangents: list[str] | None, value: bool, out: OutputChoice, chunk: str | None = None) -> None:
    """df = J·v along the tangents given (0 for the other operands), f's shape; with `value` (or as a record in
    json, npz and zarr), f beside it. Block by block (cli.run.chunked) when it does not fit or --chunk asks."""
    specs = parse_bindings(tangents, upstream=True)
    refuse_two_readers_of_stdin(sources, {f"--tangent {name}=": spec for name, spec in specs.items()}, "tangent")
    loaded = load(sources)
    refuse_target(loaded, "jvp")
    along = read_tangents(loaded, specs, sources)
    both = value or output_format(out) in RECORDS
    upstream = {f"--tangent {name}": t for name, t in along.items()}

    def shown(kinks: tuple[forward_mode.Kinked, ...], results: dict[str, Array]) -> None:
        for kinked in kinks:
            places = f"{kinked.count} {'place' if kinked.count == 1 else 'places'}"
            note(f"{kinked.node.text} is at a kink in {places}: the tangent takes {kinked.convention} there, as "
                 "backward does")
        if results:
            emit(results, out, lambda console: views().jvp(console, loaded, results.get("f"), results["df"],
                                                           tuple(specs), out.precision), record=both,
                 problem=loaded.problem, upstream=upstream)

    if not small(loaded, chunk):
        from ..run import chunked

        fmt = output_format(out)
        decision = chunked.decide(loaded, None, chunked.chunk_option(chunk), fmt, tangents=True)
        if decision.plan is not None:
            chunked.jvp(loaded, decision, along, both, out, fmt, shown)
            return
    result = forward_mode.directional(loaded.problem, along)
    shown(result.kinks, {"f": result.f, "df": result.df} if both else {"df": result.df})


def read_tangents(loaded: Loaded, specs: dict[str, str], sources: Sources) -> dict[str, Array]:
    """Each tangent read as an operand is, for an operand of the expression, checked to have its shape."""
    problem = loaded.problem
    labels = {name: f"--tangent {name}=" for name in specs}
    for name in specs:
        if name not in problem.expression.operands:
            raise InputError(f"{name} is not an operand of {problem.expression.text}", operand=labels[name],
                             hint="give a tangent for one of " + ", ".join(problem.expression.operands))
    arrays = read_operands(specs, delimiter=sources.delimiter, header=sources.header, labels=labels)
    checked = {}
    for name, array in arrays.items():
        assert array is not None
        try:
            checked.update(forward_mode.checked_tangents(problem, {name: array}))
        except core.WxbError as exc:
            raise InputError(str(exc), operand=labels[name], hint=exc.hint) from None
    return checked
