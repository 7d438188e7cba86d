"""`wxb check --claim`: the user's own gradient, judged. Claims are read here (`dL/dx = FORMULA`, derive's own
lines, or `dx=SOURCE` for numbers computed elsewhere), the operands are data, shapes or symbolic sizes, and
wxb.core.claims gives the verdicts, which are drawn here."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ... import core
from ...core.claims import DRAWS, Claim, Verdict, assess, satisfies
from ..env import note
from ..errors import InputError
from ..model import OutputChoice, Sources
from ..read.operands import read_operands, refuse_two_readers_of_stdin
from ..write.output import json_document, write_text
from .binding import OTHER_SIZES, assumptions, sized, sizes_text
from .present import descriptive_format, show

CLAIM = re.compile(r"\s*dL\s*/\s*d([A-Za-z_]\w*)\s*=\s*(.+?)\s*")
NUMBERS = re.compile(r"\s*d([A-Za-z_]\w*)\s*=\s*(.+?)\s*")
DEFINITION = re.compile(r"\s*(z\d*)\s*=\s*(.+?)\s*")


@dataclass(frozen=True)
class Request:
    """What check --claim was asked: the claims as written, where more are read from, the assumptions."""

    claims: Sequence[str]
    claims_file: str | None
    assume: Sequence[str]
    loss: str | None


def claim_lines(request: Request, stdin_text: str | None = None) -> list[str]:
    """Every claim: each --claim, then the lines of --claims (a file, or - for standard input) that are claims;
    a derive output's `z = …` lines are written into the claims that use them."""
    lines = list(request.claims)
    if request.claims_file is not None:
        if request.claims_file == "-":
            import sys

            text = stdin_text if stdin_text is not None else sys.stdin.read()
        else:
            try:
                text = Path(request.claims_file).read_text()
            except OSError as exc:
                raise InputError(f"cannot read {request.claims_file}: {exc.strerror}", operand="--claims") from None
        lines += inlined([line for line in text.splitlines() if line.strip() and not line.startswith(("#", "%"))])
    if not lines:
        raise InputError("no claim to check", operand="--claims", hint="write one as --claim 'dL/dx = 2 * A @ x'")
    return lines


def inlined(lines: list[str]) -> list[str]:
    """derive's lines with each `z = …` definition written into the lines after it, and then dropped."""
    defined: dict[str, str] = {}
    out = []
    for line in lines:
        for name, text in defined.items():
            line = re.sub(rf"\b{name}\b", f"({text})", line)
        match = DEFINITION.fullmatch(line)
        if match and not CLAIM.fullmatch(line):
            defined[match.group(1)] = match.group(2)
        else:
            out.append(line)
    return out


def parsed(lines: list[str], expression: core.Expression, sources: Sources, loss: str | None = None) -> list[Claim]:
    """Each line as a Claim: a formula (dL/dx = …) of f's operands, G (and mse's target T), or numbers
    (dx=SOURCE), of an operand of f, each once."""
    readable = [*expression.operands, "G", *(["T"] if loss == "mse" else [])]
    claims: dict[str, Claim] = {}
    numbers: dict[str, str] = {}
    for line in lines:
        match = CLAIM.fullmatch(line)
        if match:
            name, formula = match.groups()
            try:
                written = core.parse(formula, upstream=True)
                claim = Claim(name, formula=written)
            except core.ExpressionError as exc:
                raise InputError(f"the claim for dL/d{name} is not an expression: {exc}", operand="--claim") from None
            unknown = [n for n in written.operands if n not in readable]
            if unknown:
                raise InputError(f"{unknown[0]}, in the claim for dL/d{name}, is not an operand of f = "
                                 f"{expression.text}", operand="--claim",
                                 hint="a claim reads " + ", ".join(readable) + (" (T with --loss mse)" if "T" not in
                                                                                readable else ""))
        elif (numbers_match := NUMBERS.fullmatch(line)) is not None:
            name, source = numbers_match.groups()
            if re.search(r"[A-Za-z_]\w*\s*[@*(/+-]|[@*(/+-]\s*[A-Za-z_]", source) and not Path(source).exists():
                raise InputError(f"d{name}={source.strip()[:40]} reads numbers, but this looks like a formula",
                                 operand="--claim", hint=f"write a formula as 'dL/d{name} = {source.strip()[:40]}'")
            numbers[name] = source
            claim = Claim(name)
        else:
            raise InputError(f"expected dL/dNAME = FORMULA or dNAME=SOURCE, got {line.strip()[:60]!r}",
                             operand="--claim", hint="e.g. --claim 'dL/dx = 2 * A @ x'")
        if name not in expression.operands:
            raise InputError(f"{name} is not an operand of f = {expression.text}", operand="--claim",
                             hint="claim dL/dNAME for one of " + ", ".join(expression.operands))
        if name in claims:
            raise InputError(f"dL/d{name} is claimed twice", operand="--claim", hint="give each claim once")
        claims[name] = claim
    refuse_two_readers_of_stdin(sources, {f"d{name}=": spec for name, spec in numbers.items()}, "claim")
    if numbers:
        arrays = read_operands(dict(numbers), bundle=None, delimiter=sources.delimiter, header=sources.header,
                               labels={name: f"d{name}=" for name in numbers})
        for name, values in arrays.items():
            claims[name] = replace(claims[name], values=values)
    return list(claims.values())


def check_claims(sources: Sources, request: Request, out: OutputChoice) -> bool:
    """Judge each claim; True when every one is right."""
    from .derive import default_expression, operand_shapes, shapes_at

    given = sources
    bindings, chosen = sized(sources.bindings)
    sources = sources._replace(bindings=bindings)
    expression = core.parse(sources.expr if sources.expr is not None else default_expression(sources))
    shapes, loaded = operand_shapes(expression, sources, False)
    if loaded is not None:
        expression = loaded.problem.expression
    if shapes is None:
        raise InputError("check --claim needs the operands' values or shapes", hint="e.g. x=3 A=3x3, or A=mxm "
                         "for symbolic sizes, or the data as for check")
    claims = parsed(claim_lines(request), expression, sources, request.loss)
    if loaded is None and any(claim.formula is None for claim in claims):
        numbers = next(claim.name for claim in claims if claim.formula is None)
        raise InputError(f"d{numbers}= gives numbers, which are judged at your operands' numbers, and the operands "
                         "here are shapes", operand=f"d{numbers}=",
                         hint="give the operands as data (x='1; 2'), or the claim as a formula (dL/dx = …)")
    assumed = assumptions(request.assume, expression)
    user = dict(loaded.problem.operands) if loaded is not None else None
    for name, kind in assumed.items():
        if user is not None and not satisfies(user[name], kind):
            note(f"--assume {name}={kind}, but your {name} is not {kind}: the draws are, your numbers are judged as "
                 "they are", "warning")
    verdicts = assess(expression, claims, shapes, user=user, G=loaded.G if loaded else None, loss=request.loss,
                      target=loaded.target if loaded else None, assume=assumed)
    formulas = {name: wxb_formula(expression, shapes, name, request.loss) for name in verdicts}
    other: dict[str, int] = {}
    if chosen:  # symbolic sizes stand for any: judged again at other sizes, so that a size-only claim is caught
        other = sized(given.bindings, OTHER_SIZES)[1]
        shapes_again = shapes_at(given, OTHER_SIZES)
        again = assess(expression, claims, shapes_again, loss=request.loss, assume=assumed)
        verdicts = {name: sized_verdict(verdicts[name], again[name], chosen, other) for name in verdicts}
        formulas = {name: formula if formula == wxb_formula(expression, shapes_again, name, request.loss) else
                    f"{formula}   (at {sizes_text(chosen)}: it depends on the sizes)"
                    for name, formula in formulas.items()}
    report = Report(expression.text, claims, verdicts, user is not None, assumed, chosen, formulas, other)
    fmt = descriptive_format(out, ("json",))
    if fmt == "json":
        write_text(json_document(report.record()), out.output)
    elif fmt == "table":
        show(fmt, out, lambda console: console.print(report.text(), markup=False, highlight=False, end=""))
    else:
        write_text(report.text(), out.output)
    return all(v.right for v in verdicts.values())


def sized_verdict(first: Verdict, second: Verdict, chosen: Mapping[str, int], other: Mapping[str, int]) -> Verdict:
    """One verdict from the claim judged at two sets of sizes: right at both; right at one only, or off by another
    factor at each, is kind 'sizes' (a constant in it stands for a size); else the first set's verdict."""
    if first.right and second.right:
        return first
    if first.right != second.right:
        right, wrong, verdict = (chosen, other, second) if first.right else (other, chosen, first)
        return replace(verdict, kind="sizes", message=f"it holds at {sizes_text(right)} but not at "
                       f"{sizes_text(wrong)}: a constant in it stands for a size ({verdict.message})")
    if first.kind == second.kind == "factor" and first.message != second.message:
        def factor(v: Verdict) -> str:
            return v.message.removeprefix("it is off by a constant factor: ").removesuffix(" times the gradient")

        return replace(first, kind="sizes", message=f"it is off by a factor that depends on the sizes: {factor(first)} "
                       f"times the gradient at {sizes_text(chosen)}, {factor(second)} at {sizes_text(other)}")
    return first


def wxb_formula(expression: core.Expression, shapes: Mapping[str, tuple[int, ...]], name: str,
                loss: str | None) -> str:
    """wxb's own formula for dL/d`name`, written out (no z = … lines), for comparison."""
    from ...core import symbolic
    from .derive import seed

    derivation = symbolic.derive(expression, dict(shapes), (name,), seed=seed(expression, shapes, loss))
    return derivation.text(name)


@dataclass(frozen=True)
class Report:
    """The verdicts with what they were judged against: f, the claims, the draws, the assumptions."""

    expression: str
    claims: Sequence[Claim]
    verdicts: Mapping[str, Verdict]
    user: bool
    assumed: Mapping[str, str]
    sizes: Mapping[str, int]
    formulas: Mapping[str, str]
    other: Mapping[str, int] = field(default_factory=dict)

    def where(self) -> str:
        draws = DRAWS if all(c.formula is not None for c in self.claims) else 0
        parts = (["your numbers"] if self.user else []) + ([f"{draws} generic draws"] if draws else [])
        said = f"judged at {' and '.join(parts)}"
        if self.sizes and self.other:
            said += f" at each of ({sizes_text(self.sizes)}) and ({sizes_text(self.other)})"
        elif self.sizes:
            said += f" (sizes {sizes_text(self.sizes)})"
        if self.assumed:
            said += "; assuming " + ", ".join(f"{k} {v}" for k, v in self.assumed.items())
        return said

    def text(self) -> str:
        lines = [f"claims about f = {self.expression}, {self.where()}", ""]
        for claim in self.claims:
            verdict = self.verdicts[claim.name]
            written = claim.formula.text if claim.formula is not None else "(your numbers)"
            unchecked = verdict.kind == "cannot check"
            lines.append(f"{'?' if unchecked else '✓' if verdict.right else '✗'} dL/d{claim.name} = {written}")
            lines.append(f"  cannot check {verdict.message}" if unchecked else f"  right {verdict.message}"
                         if verdict.right else f"  wrong: {verdict.message}")
            if not verdict.right and verdict.worst:
                at = "your numbers" if self.user and verdict.at == 0 else f"draw {verdict.at + (not self.user)}"
                entry = f"[{', '.join(map(str, verdict.where))}]" if verdict.where else ""
                lines.append(f"  largest disagreement {verdict.worst:.2g}, at {at}: dL/d{claim.name}{entry}")
            if not verdict.right:
                lines.append(f"  wxb: dL/d{claim.name} = {self.formulas[claim.name]}")
        return "\n".join(lines) + "\n"

    def record(self) -> dict[str, Any]:
        return {"expression": self.expression, "judged": self.where(),
                "claims": [{"name": c.name, "claim": c.formula.text if c.formula is not None else None,
                            **vars(self.verdicts[c.name]), "where": list(self.verdicts[c.name].where),
                            "wxb": self.formulas[c.name]} for c in self.claims]}
