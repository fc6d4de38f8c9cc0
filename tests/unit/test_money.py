from decimal import Decimal

import pytest

from include.budget_import.money import MoneyError, db_amount, has_sub_cent_digits, money_text, parse_money, to_cents


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234.56", Decimal("1234.5600")),
        (Decimal("98765432109.99"), Decimal("98765432109.9900")),
        (0.1 + 0.2, Decimal("0.3000")),  # SQLite SUM float noise is folded at the column scale
        (1.4000000000000001, Decimal("1.4000")),
        (None, Decimal("0.0000")),
        ("", Decimal("0.0000")),
        (" 12 ", Decimal("12.0000")),
        (7, Decimal("7.0000")),
        ("-0.0000", Decimal("0.0000")),
    ],
)
def test_db_amount_is_exact_whatever_the_driver_returns(raw, expected):
    value = db_amount(raw)
    assert value == expected
    assert isinstance(value, Decimal)
    assert str(value) == str(expected)


@pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity", object(), True])
def test_db_amount_refuses_what_is_not_an_amount(raw):
    with pytest.raises(MoneyError):
        db_amount(raw)


def test_parse_money_refuses_floats_from_an_api():
    with pytest.raises(MoneyError, match="float"):
        parse_money(1500.5)
    assert parse_money("1500.50") == Decimal("1500.50")


def test_sub_cent_digits_and_cents():
    assert has_sub_cent_digits(Decimal("1234.5675"))
    assert not has_sub_cent_digits(Decimal("1234.5600"))
    assert to_cents(Decimal("10.5000")) == Decimal("10.50")
    assert money_text(Decimal("0.1000")) == "0.10"
    assert money_text(Decimal("98765432109.99")) == "98765432109.99"


@pytest.mark.parametrize("text", ["1_000", "1_000.00", "\u0661\u0662\u0663", "\uff11\uff12", "1,000.00", "12.5.0", "$12", "0x10", "NaN", "Infinity"])
def test_money_text_is_what_a_sql_decimal_holds_in_ascii_digits(text):
    with pytest.raises(MoneyError):
        db_amount(text)


def test_rejects_csv_never_hands_a_spreadsheet_a_formula(tmp_path):
    import csv

    import pandas as pd

    from include.budget_import.artifacts import RunFolder
    from include.budget_import.job_reports import write_rejects

    folder = RunFolder("r", root=tmp_path).job("01", "19.50")
    write_rejects(folder, pd.DataFrame({"description": ['=HYPERLINK("http://x","y")', "+cmd", "@SUM(A1)", "-x", "plain", "-5.00"],
                                        "jtd_cost": ["-5.00", "0", "1", "2", "3", "4"]}))
    rows = list(csv.DictReader(folder.file("rejects.csv").open(encoding="utf-8")))
    assert [r["description"] for r in rows] == ['\'=HYPERLINK("http://x","y")', "'+cmd", "'@SUM(A1)", "'-x", "plain", "-5.00"]
    assert rows[0]["jtd_cost"] == "-5.00"  # a negative amount stays a number
