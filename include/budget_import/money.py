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


def db_amount(value: object) -> Decimal:
    """Exact Decimal from whatever a driver returned; NULL counts as zero (no estimate, no cost)."""
    if value is None or value == "":
        return Decimal(0).quantize(DB_SCALE)
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
    elif isinstance(value, (str, float)):
        # repr() of a float is the shortest string that round-trips, so no binary digits leak in.
        text = value.strip() if isinstance(value, str) else repr(value)
        try:
            amount = Decimal(text)
        except InvalidOperation as exc:
            raise MoneyError(f"not a number: {value!r}") from exc
    else:
        raise MoneyError(f"unsupported amount type {type(value).__name__}: {value!r}")
    if not amount.is_finite():
        raise MoneyError(f"not a finite amount: {value!r}")
    return amount.quantize(DB_SCALE, rounding=ROUND_HALF_UP) + 0  # +0 folds -0.0000 into 0.0000


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
