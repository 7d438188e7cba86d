"""Every option's declaration and help text, shared by the commands that take it: shared.py (operands, outputs,
Dask, losses), derivatives.py (claims, assumptions, the second order)."""

from .derivatives import (
    CLAIM_PANEL as CLAIM_PANEL,
)
from .derivatives import (
    AssumeOption as AssumeOption,
)
from .derivatives import (
    ClaimOption as ClaimOption,
)
from .derivatives import (
    ClaimsOption as ClaimsOption,
)
from .derivatives import (
    DeriveAssumeOption as DeriveAssumeOption,
)
from .derivatives import (
    EigOption as EigOption,
)
from .derivatives import (
    HessianFormatOption as HessianFormatOption,
)
from .derivatives import (
    OrderOption as OrderOption,
)
from .derivatives import (
    VectorOption as VectorOption,
)
from .shared import *  # noqa: F403 - the operand and output options, by their own names
