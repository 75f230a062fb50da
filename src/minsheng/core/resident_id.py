"""Resident identity numbers (公民身份号码, GB 11643-1999): validation and masking.

An 18-character number: a 6-digit address code, an 8-digit birth date (YYYYMMDD), a
3-digit sequence code and a check character. The check character is ISO 7064 MOD 11-2:
with weights ``Wi = 2^(17-i) mod 11`` for the first 17 digits, ``(12 - Σ ai·Wi mod 11) mod 11``,
where 10 is written ``X``.

Resident ids are personal data: anything shown to people who do not need the whole number
(logs, replies to hospitals and citizens) uses :func:`mask_certno`.
"""

from __future__ import annotations

import datetime as dt
import re

from minsheng.core.errors import InputError

WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
CHECK_CHARS = "0123456789X"
_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
_ANYWHERE = re.compile(r"(?<![0-9])([1-9][0-9]{5})([0-9]{8})([0-9]{3})([0-9Xx])(?![0-9A-Za-z])")


def check_char(first17: str) -> str:
    """The check character of the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("expected 17 digits")
    total = sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[(12 - total % 11) % 11]


def validate_certno(raw: object, field: str = "certno") -> str:
    """The number in canonical form (upper-case ``X``), or an error naming ``field``."""
    if not isinstance(raw, str):
        raise InputError(field, "身份证号码应为文本", "resident id must be text")
    text = raw.strip().upper()
    if not _SHAPE.match(text):
        raise InputError(field, "身份证号码应为18位（前17位数字，末位数字或X）",
                         "a resident id has 18 characters: 17 digits and a digit or X")
    try:
        born = dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        raise InputError(field, f"身份证号码中的出生日期 {text[6:14]} 无效",
                         "the birth date in the resident id is not a date") from None
    if born.year < 1880:
        raise InputError(field, f"身份证号码中的出生日期 {text[6:14]} 无效",
                         "the birth date in the resident id is not plausible")
    expected = check_char(text[:17])
    if text[17] != expected:
        raise InputError(field, "身份证号码校验码错误（GB 11643）",
                         "the check character does not match (GB 11643)")
    return text


def make_certno(address: str, born: dt.date, sequence: int) -> str:
    """A valid number for an address code, birth date and sequence (demo and test data)."""
    if len(address) != 6 or not address.isdigit():
        raise ValueError("address code must be 6 digits")
    if not 0 <= sequence <= 999:
        raise ValueError("sequence must be 0..999")
    first17 = f"{address}{born:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)


def mask_certno(certno: str | None) -> str | None:
    """Keep the first four and last four characters: ``2201**********1234``."""
    if certno is None:
        return None
    if len(certno) <= 8:
        return "*" * len(certno)
    return certno[:4] + "*" * (len(certno) - 8) + certno[-4:]


def mask_certnos_in(text: str) -> str:
    """Mask every resident-id-shaped number inside free text (for logs)."""
    return _ANYWHERE.sub(lambda m: mask_certno(m.group(0)) or "", text)
