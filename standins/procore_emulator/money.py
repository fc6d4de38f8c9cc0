"""Exact money: amounts are Decimals in memory and canonical TEXT in SQLite, never floats."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

ZERO = Decimal(0)


class MoneyError(ValueError):
    """A value that is not a finite decimal number."""


def parse_decimal(value: Any) -> Decimal:
    """Accept a JSON number (already a Decimal or int) or a numeric string; reject NaN, inf, bools."""
    if isinstance(value, bool) or value is None:
        raise MoneyError("must be a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        # Only reachable when a caller bypassed the Decimal-aware JSON parser; repr is exact for what was parsed.
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise MoneyError("must be a number") from None
    else:
        raise MoneyError("must be a number")
    if not number.is_finite():
        raise MoneyError("must be a finite number")
    return number


def to_text(number: Decimal) -> str:
    """Canonical storage text: plain notation (no exponent), scale kept as given."""
    text = format(number, "f")
    return "0" if text in ("-0", "") else text


def from_text(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)

MAX_INTEGER_DIGITS = 15
MAX_DECIMAL_PLACES = 10


def parse_amount(value: Any) -> Decimal:
    """A money/quantity input within the emulator's (guessed) bounds: |x| < 10**15, <= 10 decimal places.

    The decimal-place bound also catches float noise such as 0.30000000000000004 sent by a client.
    """
    number = parse_decimal(value)
    _sign, _digits, exponent = number.as_tuple()
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > MAX_DECIMAL_PLACES:
        raise MoneyError(f"must have at most {MAX_DECIMAL_PLACES} decimal places")
    if abs(number) >= Decimal(10) ** MAX_INTEGER_DIGITS:
        raise MoneyError(f"must be less than 10**{MAX_INTEGER_DIGITS} in absolute value")
    return number
