"""The errors wxb raises on purpose: one base class, a few kinds, each carrying what a person needs to read."""

from __future__ import annotations


class WxbError(Exception):
    """Base of every error wxb raises on purpose; `hint` is an optional suggestion for the user."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class ShapeError(WxbError, ValueError):
    """Shapes that do not fit: a matmul with mismatched inner sizes, or operands that cannot broadcast."""


class BiasEnlargesError(ShapeError):
    """A bias that would stretch W·X itself (an outer sum), which is refused."""


class DtypeError(WxbError, TypeError):
    """An array whose dtype wxb does not compute with (complex, object, strings)."""


class BindingError(WxbError):
    """An expression's operands bound wrongly: a name it uses not given, or a name given that it does not use."""


class TooLargeError(WxbError):
    """A dense result over the size guard, refused before anything is allocated."""


class SingularMatrixError(WxbError, ValueError):
    """A matrix that inv, solve or logdet needs invertible is singular, or numerically so."""
