"""The fast paths of money.db_amount and spectrum_source.normalise_lines (see docs/spectrum.md, "Extraction
figures") give exactly what the straightforward versions gave, for every shape a driver can return."""
from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pytest

from include.budget_import.money import DB_SCALE, MoneyError, db_amount
from include.budget_import.spectrum_source import normalise_line, normalise_lines, trim_key


def reference_db_amount(value: object) -> Decimal:
    """db_amount as first written (before the fast paths), kept here as the specification; text amounts
    are ASCII digits, sign, point and exponent only (issue 15: '1_000' and other scripts' digits are not money)."""
    if value is None or value == "":
        return Decimal(0).quantize(DB_SCALE)
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
    elif isinstance(value, (str, float)):
        text = value.strip() if isinstance(value, str) else repr(value)
        if isinstance(value, str) and any(ch not in "0123456789+-.eE" for ch in text):
            raise MoneyError(f"not a number: {value!r}")  # what a SQL DECIMAL holds, in ASCII digits ('1_000' is not)
        try:
            amount = Decimal(text)
        except InvalidOperation as exc:
            raise MoneyError(f"not a number: {value!r}") from exc
    else:
        raise MoneyError(f"unsupported amount type {type(value).__name__}: {value!r}")
    if not amount.is_finite():
        raise MoneyError(f"not a finite amount: {value!r}")
    return amount.quantize(DB_SCALE, rounding=ROUND_HALF_UP) + 0


class _Str(str):
    pass


class _Dec(Decimal):
    pass


def _values(seed: int = 11, n: int = 4000) -> list[object]:
    rng = random.Random(seed)
    fixed: list[object] = [
        None, "", "0", "-0", "-0.0000", "0.00004", "-0.00004", "-0.00005", "0.00005", "1.00005", "135", "9306.8",
        "  12 ", "25427.4800                    ", "98765432109.99", "1e3", "1E-2", "1_000", "+5", "-150.00",
        Decimal(0), Decimal("-0"), Decimal("-0.0000"), Decimal("1234.5675"), Decimal("1E+3"), Decimal("0.00005"),
        Decimal("98765432109.9900"), 0, 7, -3, 2**40, 0.1 + 0.2, 1.4000000000000001, 1.00005, -0.0, 15500.125,
        _Str(" 4.5 "), _Dec("2.25"),
    ]
    for _ in range(n):
        cents = rng.randrange(-10**13, 10**13)
        scale = rng.choice([0, 1, 2, 3, 4, 5, 6])
        d = Decimal(cents).scaleb(-scale)
        fixed.append(rng.choice([str(d), d, f"{d}".ljust(30), float(d) if scale <= 4 else str(d)]))
    return fixed


def _outcome(fn, value):
    try:
        result = fn(value)
    except MoneyError as exc:
        return ("error", type(exc))
    return (str(result), type(result))


def test_db_amount_matches_its_reference_on_every_shape():
    for value in _values():
        assert _outcome(db_amount, value) == _outcome(reference_db_amount, value), repr(value)


@pytest.mark.parametrize("bad", ["abc", "NaN", "-Infinity", "sNaN", "   ", Decimal("NaN"), float("nan"),
                                 float("inf"), True, b"12", object(), [1]])
def test_db_amount_refuses_what_is_not_an_amount(bad):
    with pytest.raises(MoneyError):
        db_amount(bad)


def test_db_amount_refuses_an_amount_too_big_for_exact_arithmetic():
    with pytest.raises(MoneyError, match="out of range"):
        db_amount("1e40")


def test_negative_zero_is_folded():
    for value in ("-0", "-0.00001", Decimal("-0"), -0.0):
        assert str(db_amount(value)) == "0.0000"


def test_trims_keep_their_meaning():
    assert trim_key("     19.50") == "19.50" and trim_key("   ") is None and trim_key(None) is None
    assert trim_key(_Str(" L ")) == "L" and trim_key(42) == "42"
    assert trim_key(" Unit Masonry   ") == "Unit Masonry" and trim_key("") is None


def test_normalise_lines_equals_normalise_line_row_by_row():
    rng = random.Random(5)
    values = _values(n=600)
    keys = ["01", "  02", "     19.50", "", "   ", None, "06-100 ", "電気", "Béton coulé — niveau 2", _Str(" x "), 42]
    rows = [tuple(rng.choice(keys) for _ in range(5)) + tuple(rng.choice(values) for _ in range(2))
            for _ in range(3000)]
    rows = [r for r in rows if all(_outcome(db_amount, v)[0] != "error" for v in r[5:])]
    assert len(rows) > 1000
    assert normalise_lines(rows) == [normalise_line(r) for r in rows]
    for a, b in zip(normalise_lines(rows), (normalise_line(r) for r in rows), strict=True):
        assert [type(v) for v in a] == [type(v) for v in b]
    assert normalise_lines([]) == []


def test_normalise_lines_raises_like_normalise_line():
    row = ("01", "19.50", "01-100", "L", "x", "NaN", "4")  # an estimate that is no number
    with pytest.raises(MoneyError):
        normalise_line(row)
    with pytest.raises(MoneyError):
        normalise_lines([row])


@pytest.mark.parametrize("column, position", [("Original_Est_Cost", 5), ("Job_To_Date_Cost", 6)])
def test_an_unreadable_estimate_or_cost_marks_only_that_amount_and_says_rejected(column, position, caplog):
    """The two amounts the import reads: one that is no number becomes NOT_AN_AMOUNT (rule amount_invalid),
    the other is read as usual, and the log names the column and says the row is rejected."""
    from include.budget_import.spectrum_source import NOT_AN_AMOUNT, normalise_line_leniently

    row = ["01", "19.50", "01-100", "L", "Work", Decimal("100.00"), Decimal("0")]
    row[position] = "abc"
    caplog.set_level("WARNING")
    line = normalise_line_leniently(row)
    assert line[position] is NOT_AN_AMOUNT
    other = 11 - position  # 5 <-> 6
    assert line[other] == row[other] and line[other] is not NOT_AN_AMOUNT
    assert line[:5] == ("01", "19.50", "01-100", "L", "Work")
    logged = [r.getMessage() for r in caplog.records if column in r.getMessage()]
    assert logged and all("rejected (amount_invalid)" in m for m in logged)


def test_a_budget_line_is_the_seven_columns_the_import_reads():
    """Only what a later stage reads is fetched (issue 19): no unit of measure, quantity or unit cost."""
    from include.budget_import.spectrum_source import AMOUNT_COLUMNS, EXTRACT_COLUMNS

    assert EXTRACT_COLUMNS == ("company_code", "job_number", "phase_code", "cost_type", "description",
                               "original_estimate", "jtd_cost")
    assert AMOUNT_COLUMNS == ("original_estimate", "jtd_cost")
