"""Exact money: every amount is a Decimal from the database driver to the Procore request body.

Drivers disagree on how a DECIMAL column arrives (SQL Server and PostgreSQL: Decimal; the SQLite
ODBC driver: str, and SQLite itself may have stored it as a binary float). `db_amount` is the one
place that turns any of them into an exact Decimal.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
# Spectrum's sample money columns are DECIMAL(15,4); rounding driver values to that scale removes the
# binary-float noise SQLite can add (e.g. a SUM of 0.1 and 0.2) without touching any real digit.
DB_SCALE = Decimal("0.0001")


class MoneyError(ValueError):
    """An amount that cannot be represented exactly."""


_ZERO = Decimal(0).quantize(DB_SCALE)


def db_amount(value: object) -> Decimal:
    """Exact Decimal from whatever a driver returned; NULL counts as zero (no estimate, no cost).

    Called four times per extracted line, so the two shapes drivers actually return (Decimal from
    PostgreSQL / MariaDB / SQL Server, str from SQLite and from a CAST(... AS CHAR) column) come first
    (see docs/spectrum.md, "Extraction figures").
    """
    if type(value) is Decimal:  # `type(...) is` (not isinstance): the fastest test, and mypy narrows on it
        amount = value
    elif type(value) is str:
        if not value:
            return _ZERO
        if "_" in value or not value.isascii():  # Decimal takes '1_000' and other scripts' digits: not a SQL DECIMAL
            raise MoneyError(f"not a number: {value!r}")
        try:
            amount = Decimal(value)  # the constructor ignores surrounding whitespace (CHAR(n) padding)
        except InvalidOperation as exc:
            raise MoneyError(f"not a number: {value!r}") from exc
    elif value is None:
        return _ZERO
    else:
        amount = _other_amount(value)
    if not amount.is_finite():  # NaN would pass quantize untouched
        raise MoneyError(f"not a finite amount: {value!r}")
    try:
        amount = amount.quantize(DB_SCALE, ROUND_HALF_UP)
    except InvalidOperation as exc:  # more digits than the decimal context holds
        raise MoneyError(f"amount out of range: {value!r}") from exc
    return amount if amount else _ZERO  # folds -0.0000 into 0.0000


def _other_amount(value: object) -> Decimal:
    """The rarer shapes: Decimal and str subclasses, int, float (SQLite aggregates)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, (str, float)):
        # repr() of a float is the shortest string that round-trips, so no binary digits leak in.
        text = str(value) if isinstance(value, str) else repr(value)
        if not text:
            return _ZERO
        if isinstance(value, str) and ("_" in text or not text.isascii()):
            raise MoneyError(f"not a number: {value!r}")
        try:
            return Decimal(text)
        except InvalidOperation as exc:
            raise MoneyError(f"not a number: {value!r}") from exc
    raise MoneyError(f"unsupported amount type {type(value).__name__}: {value!r}")


def has_sub_cent_digits(amount: Decimal) -> bool:
    """True when the amount has non-zero digits beyond cents (e.g. 1234.5675)."""
    return amount != amount.quantize(CENT)


def to_cents(amount: Decimal) -> Decimal:
    """The amount at exactly two decimals; callers reject sub-cent amounts before they get here."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money_text(amount: Decimal) -> str:
    """Two-decimal text for reports, CSV and API bodies ('1234.50')."""
    return f"{to_cents(amount):f}"


def parse_money(text: object) -> Decimal:
    """Exact Decimal from an API or CSV value (str, int or Decimal); floats are refused."""
    if isinstance(text, float):
        raise MoneyError(f"refusing a float amount {text!r}: parse JSON with parse_float=Decimal")
    return db_amount(text)


def money_number(amount: Decimal) -> Decimal:
    """An amount for a Procore body (an exact JSON number): at two decimals when that loses nothing
    ('1500.0000' -> 1500.00), else every digit it has (nothing is rounded away)."""
    return amount if has_sub_cent_digits(amount) else to_cents(amount)
