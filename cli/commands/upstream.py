"""What the backward pass starts from and goes to: G (-G, a loss, or 1 for a scalar f) and the operands named by
--wrt."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import core
from ...core.losses import loss_row
from ..errors import InputError
from ..model import Loaded

Array = np.ndarray[Any, np.dtype[Any]]


def refuse_target(loaded: Loaded, command: str) -> None:
    """A command without a loss takes -T only as the operand T of the expression."""
    if loaded.target_given:
        raise InputError(f"{loaded.problem.expression.text} has no operand T for -T to bind, and {command} has no "
                         "loss to take it as a target", operand="-T",
                         hint="name T in the expression (-e), or give the target to backward --loss mse")


def check_upstream(loaded: Loaded, loss: str | None) -> None:
    """-G and --loss exclude each other (a G from a --from bundle gives way to --loss); a target (--target, or -T
    when T is not an operand) goes with --loss mse, which needs one."""
    if loaded.G_given and loss is not None:
        raise InputError("give -G or --loss, not both", hint="-G is ∂L/∂f itself; --loss derives it from f")
    if loaded.G is None and loss != "mse" and loaded.target_given:
        raise InputError(f"{loaded.target_label} is only used with --loss mse",
                         hint="add --loss mse, or use T in the expression")
    if loss == "mse" and loaded.target is None and "T" in loaded.problem.expression.operands:
        raise InputError("the mse loss needs a target, and -T binds the operand T of the expression",
                         hint="give the target with --target")
    if loaded.G is not None and loss is None:
        held_G(loaded)


def held_G(loaded: Loaded) -> Any:
    """-G checked against f (f's shape, or a scalar), refused in one line naming -G, before anything is computed."""
    try:
        return loaded.problem.upstream(loaded.G)
    except core.WxbError as exc:
        raise InputError(str(exc), operand="-G", hint=exc.hint or "give G = ∂L/∂f of f's shape, or one number") \
            from None


def upstream(loaded: Loaded, loss: str | None) -> tuple[Array | None, str]:
    """G = ∂L/∂f from -G (or 1 for a scalar f), or None when the loss (sum by default) derives it from f in the
    backward pass's own forward pass; with a note of where G comes from."""
    problem = loaded.problem
    check_upstream(loaded, loss)
    if loaded.starts_from_G(loss):
        return problem.upstream(loaded.G), ""
    if problem.f_shape == () and loss is None:
        return problem.upstream(None), "G = ∂L/∂f = 1 for L = f, a scalar."
    return None, f"G = ∂L/∂f for {loss_row(loss).text} (give -G for your own)."


def wrt_names(loaded: Loaded, wrt: str | None) -> tuple[tuple[str, ...], bool]:
    """The operands to differentiate (default: b for W @ X + b, every operand with -e), and whether they form a
    keyed record ('all' always does)."""
    if wrt is None and loaded.default:
        return ("b",), False
    names = wrt_list(wrt)
    return checked_wrt(loaded, names), names is None or "all" in names or len(names) > 1

def wrt_list(wrt: str | None) -> list[str] | None:
    """--wrt's comma-separated names (None when it was not given)."""
    if wrt is None:
        return None
    names = [name.strip() for name in wrt.split(",") if name.strip()]
    if not names:
        raise InputError("--wrt needs operand names or all", hint="e.g. --wrt all or --wrt W,b")
    return names

def checked_wrt(loaded: Loaded, names: list[str] | None) -> tuple[str, ...]:
    """The operands named (None or 'all': every one), refused with --wrt named when one is not an operand."""
    try:
        return loaded.problem.wrt_names(names)
    except core.WxbError as exc:
        hint = exc.hint or ""
        if loaded.default and names and "W" in names:
            hint += "; give -W for f = W·X ⊕ b"
        raise InputError(str(exc), operand="--wrt" if names else None, hint=hint) from None

def jacobian_wrt(loaded: Loaded, wrt: str | None) -> str:
    """The one operand the Jacobian is taken with respect to (default: b if there is one, else the first)."""
    operands = checked_wrt(loaded, None)
    if wrt is None:
        return "b" if "b" in operands else operands[0]
    if wrt not in operands:
        hint = "choose one of " + ", ".join(operands)
        if loaded.default and wrt == "W":
            hint += "; give -W for f = W·X ⊕ b"
        raise InputError(f"{wrt} is not an operand of {loaded.problem.expression.text}", operand="--wrt", hint=hint)
    return wrt
