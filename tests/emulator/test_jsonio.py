"""The emulator's exact JSON writer: every Decimal goes out as the number it holds, never through a float."""
from __future__ import annotations

import json
from decimal import Decimal

from standins.procore_emulator import jsonio


def _read(raw: bytes) -> object:
    return json.loads(raw, parse_float=Decimal)


def test_decimals_are_written_exactly() -> None:
    amounts = [Decimal("1234.56"), Decimal("0.10"), Decimal("-0.01"), Decimal("0"),
               Decimal("123456789012345.1234567891"), Decimal("0.30000000000000004")]
    body = [{"id": 5_000_000_001, "original_budget_amount": a, "cost_code": "01-100 - Général", "uom": None,
             "deletable": True} for a in amounts]
    raw = jsonio.dumps(body)
    assert b"1234.56," in raw and b"0.30000000000000004," in raw and b"123456789012345.1234567891," in raw
    read = _read(raw)
    assert [r["original_budget_amount"] for r in read] == amounts  # type: ignore[index]
    assert [str(r["original_budget_amount"]) for r in read] == [str(a) for a in amounts]  # type: ignore[index]
    assert read == _read(jsonio._exact_dumps(body))  # the C writer and the pure-Python one agree


def test_a_non_finite_decimal_is_written_as_text_not_as_bare_nan() -> None:
    """Only an echo of bad input can hold one (a sync error repeats the item); bare NaN is not JSON."""
    raw = jsonio.dumps({"errors": {"original_budget_amount": Decimal("NaN"), "quantity": Decimal("-Infinity")}})
    assert json.loads(raw) == {"errors": {"original_budget_amount": "NaN", "quantity": "-Infinity"}}


def test_keys_that_are_not_text_are_written_as_text() -> None:
    assert _read(jsonio.dumps({1: Decimal("2.50"), (1, 2): "x"})) == {"1": Decimal("2.50"), "(1, 2)": "x"}
