"""Money as integer fen (分), with half-up rounding and exact splitting.

Every amount in minsheng is an ``int`` number of fen. Ratios are exact
:class:`fractions.Fraction` values (parsed from decimal strings such as ``"0.7"``), so
that ``amount × ratio`` is computed exactly and rounded once, half-up (四舍五入), to the fen.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from minsheng.core.errors import InputError

FEN_PER_YUAN = 100
_PLAIN = re.compile(r"[0-9]{1,15}\.[0-9]{2}")
"""Yuan with two decimals and nothing else (ASCII digits only): read without Decimal."""
FenArray = npt.NDArray[np.int64]


def parse_fen(value: object, field: str = "amount", *, allow_negative: bool = False) -> int:
    """Parse yuan given as a string or number with at most two decimals into fen.

    >>> parse_fen("580.00"), parse_fen(139.2), parse_fen(7)
    (58000, 13920, 700)
    """
    if type(value) is str and _PLAIN.fullmatch(value):  # "580.00", as most claims send it
        return int(value[:-3] + value[-2:])
    if isinstance(value, bool):
        raise InputError(field, f"应为金额，收到布尔值 {value!r}", "expected an amount")
    if isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InputError(field, f"金额无效：{value!r}", "not a finite number")
        d = Decimal(repr(value))
    elif isinstance(value, str | Decimal):
        try:
            d = Decimal(str(value).strip().replace(",", ""))
        except InvalidOperation:
            raise InputError(field, f"不是金额：{value!r}", "not an amount") from None
        if not d.is_finite():
            raise InputError(field, f"金额无效：{value!r}", "not a finite number")
    else:
        raise InputError(field, f"应为金额（字符串或数字），收到 {type(value).__name__}",
                         "expected an amount as string or number")
    fen = d * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise InputError(field, f"金额最多两位小数：{value!r}", "at most two decimals")
    result = int(fen)
    if result < 0 and not allow_negative:
        raise InputError(field, f"金额不能为负：{value!r}", "must not be negative")
    return result


_CENTS = tuple(f"{c:02d}" for c in range(FEN_PER_YUAN))


def format_fen(fen: int) -> str:
    """Format fen as yuan with exactly two decimals: ``58000 → "580.00"``. (Called a dozen
    times per settlement: the cents come from a table, about twice as fast as formatting.)"""
    fen = int(fen)
    if fen >= 0:
        return f"{fen // FEN_PER_YUAN}.{_CENTS[fen % FEN_PER_YUAN]}"
    fen = -fen
    return f"-{fen // FEN_PER_YUAN}.{_CENTS[fen % FEN_PER_YUAN]}"


def format_yuan_grouped(fen: int) -> str:
    """Format fen for people: ``1996599 → "19,965.99"``."""
    sign = "-" if fen < 0 else ""
    q, r = divmod(abs(int(fen)), FEN_PER_YUAN)
    return f"{sign}{q:,}.{r:02d}"


def parse_ratio(value: object, field: str = "ratio") -> Fraction:
    """Parse a ratio given as a decimal string or number (``"0.7"``, ``0.05``, ``1``)."""
    if isinstance(value, bool):
        raise InputError(field, f"应为比例，收到布尔值 {value!r}", "expected a ratio")
    if isinstance(value, Fraction):
        return value
    try:
        if isinstance(value, float):
            return Fraction(Decimal(repr(value)))
        if isinstance(value, int | str | Decimal):
            d = Decimal(str(value).strip())
            if not d.is_finite():
                raise InvalidOperation
            return Fraction(d)
    except (InvalidOperation, ValueError):
        pass
    raise InputError(field, f"不是比例：{value!r}", "not a ratio")


@lru_cache(maxsize=4096)
def format_ratio(ratio: Fraction) -> str:
    """Format a ratio as a plain decimal (``Fraction(7, 10) → "0.7"``)."""
    d = Decimal(ratio.numerator) / Decimal(ratio.denominator)
    return format(d.normalize(), "f")


def div_half_up(numerator: int, denominator: int) -> int:
    """Exact integer division rounded half away from zero (四舍五入)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return q if numerator >= 0 else -q


def mul_ratio(fen: int, ratio: Fraction) -> int:
    """``fen × ratio``, rounded half-up to the fen."""
    return div_half_up(fen * ratio.numerator, ratio.denominator)


def mul_ratio_array(fen: FenArray, ratio: Fraction | npt.NDArray[np.object_]) -> FenArray:
    """Vectorised ``fen × ratio`` with half-up rounding, on int64 arrays.

    ``ratio`` is one Fraction; amounts must stay below 2**62 / numerator.
    """
    assert isinstance(ratio, Fraction)
    num, den = ratio.numerator, ratio.denominator
    a = np.abs(fen) * num
    q = (2 * a + den) // (2 * den)
    return np.where(fen < 0, -q, q).astype(np.int64)


def split(total: int, shares: Sequence[Fraction]) -> list[int]:
    """Split ``total`` fen by ``shares`` (summing to 1) so that the parts add up exactly.

    Each part is first ``floor(total × share)``; the fen left over go, one each, to the
    parts with the largest remainders (earlier parts first on ties). When every
    ``total × share`` is a whole number of fen, that is exactly what each part gets.
    """
    _check_shares(tuple(shares))
    floors: list[int] = []
    remainders: list[Fraction] = []
    for s in shares:
        q, r = divmod(total * s.numerator, s.denominator)
        floors.append(q)
        remainders.append(Fraction(r, s.denominator))
    left = total - sum(floors)
    if left:
        order = sorted(range(len(shares)), key=lambda i: (-remainders[i], i))
        for i in order[:left]:
            floors[i] += 1
    return floors


@lru_cache(maxsize=1024)
def _check_shares(shares: tuple[Fraction, ...]) -> None:
    if sum(shares, Fraction(0)) != 1:
        raise ValueError(f"shares must sum to 1, got {sum(shares, Fraction(0))}")
    if any(s < 0 for s in shares):
        raise ValueError("shares must not be negative")
