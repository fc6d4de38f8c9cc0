"""The server-side SVG charts (plugins/spectrum_budget_reports/charts.py): valid SVG, accessible, bars
proportional to the exact amounts, every value labelled, every text escaped, no float money."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from tests.ui.conftest import PLUGINS  # noqa: F401  (puts plugins/ on sys.path)

from spectrum_budget_reports import charts  # isort: skip

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby", "").split()
    assert root.find(f"{SVG}title").get("id") == title_id and root.find(f"{SVG}desc").get("id") == desc_id
    assert root.find(f"{SVG}title").text and root.find(f"{SVG}desc").text
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("data-value") is not None]


def test_grouped_bars_are_proportional_to_exact_amounts_and_labelled():
    groups = [("L Labor", [Decimal("2630361.54"), "1315180.77"]), ("M Material", ["0.01", None]), ("E Equipment", [0, "98766430612.56"])]
    root = parse(charts.grouped_bars("c1", "Budget by cost type", "desc", ["Spectrum", "Procore"], groups))
    drawn = bars(root)
    assert [r.get("data-value") for r in drawn] == ["2630361.54", "1315180.77", "0.01", "0", "98766430612.56"]
    widths = {r.get("data-value"): float(r.get("width")) for r in drawn}
    # lengths proportional to the amounts (geometry is float, to 2 decimals)
    biggest = widths["98766430612.56"]
    assert widths["2630361.54"] / biggest == pytest.approx(float(Decimal("2630361.54") / Decimal("98766430612.56")), abs=1e-3)
    assert widths["1315180.77"] == pytest.approx(widths["2630361.54"] / 2, abs=0.02)
    assert widths["0"] == 0
    labels = texts(root)
    # every value in words, exact, with its series: not by colour alone
    assert "Spectrum $2,630,361.54" in labels and "Procore $1,315,180.77" in labels and "Procore $98,766,430,612.56" in labels
    assert "Procore none" in labels and "Spectrum $0.01" in labels
    assert {"L Labor", "M Material", "E Equipment", "Spectrum", "Procore"} <= set(labels)


def test_negative_amounts_grow_from_zero():
    root = parse(charts.grouped_bars("c2", "t", "d", ["A"], [("x", ["-50.00"]), ("y", ["100.00"])]))
    neg, pos = bars(root)
    assert float(neg.get("width")) == pytest.approx(float(pos.get("width")) / 2, abs=0.02)
    assert float(neg.get("x")) + float(neg.get("width")) == pytest.approx(float(pos.get("x")), abs=0.02), "both start at the zero line"
    assert "A -$50.00" in texts(root)


def test_money_must_be_exact():
    with pytest.raises(TypeError):
        charts.grouped_bars("c3", "t", "d", ["A"], [("x", [1.5])])
    with pytest.raises(TypeError):
        charts.exact(True)
    assert charts.exact("1500.0000") == Decimal("1500.0000") and charts.exact("NaN") is None and charts.exact("abc") is None
    assert charts.dollars(Decimal("0.005")) == "$0.01" and charts.dollars(Decimal("-1760.5")) == "-$1,760.50"


def test_every_text_is_escaped():
    evil = '<script>alert("x")</script> & "quotes"'
    svg = charts.grouped_bars('id"><script>', evil, evil, [evil], [(evil, ["1"])])
    assert "<script>" not in svg
    root = parse(svg)
    assert root.find(f"{SVG}title").text == evil and root.find(f"{SVG}desc").text == evil
    assert evil in texts(root)
    svg = charts.status_bars("s", evil, evil, [(evil, 'x" onload="alert(1)', 3)])
    assert "onload=" not in svg.replace("onload=&", "")  # the state becomes a plain class name
    parse(svg)
    for svg in (charts.columns("k", evil, evil, [(evil, 3)], series=evil), charts.lines("l", evil, evil, [evil], [(evil, ["1"])])):
        root = parse(svg)
        assert "<script>" not in svg and evil in "".join(texts(root))


def test_columns_over_time_labelled_and_scaled():
    points = [("11-20 02:31", 0), ("11-21 02:31", 8), ("11-22 02:31", 4), ("11-23 02:31", None)]
    root = parse(charts.columns("r", "Rows rejected per run", "d", points, series="Rows rejected"))
    drawn = bars(root)
    assert [r.get("data-value") for r in drawn] == ["0", "8", "4"]
    heights = [float(r.get("height")) for r in drawn]
    assert heights[0] == 0 and heights[2] == pytest.approx(heights[1] / 2, abs=0.02)
    labels = texts(root)
    assert ["0", "8", "4", "none"] == [t for t in labels if t in {"0", "8", "4", "none"}]
    assert "11-20 02:31" in labels and "11-23 02:31" in labels and "Rows rejected" in labels


def test_pass_rate_columns_on_a_fixed_100_scale():
    rates = [("a", Decimal(100) * 11 / 12), ("b", Decimal(100))]
    root = parse(charts.columns("q", "t", "d", rates, fmt=charts.percent, top=100))
    first, full = bars(root)
    assert float(first.get("height")) == pytest.approx(float(full.get("height")) * 11 / 12, abs=0.02)
    assert "91.7%" in texts(root) and "100%" in texts(root)


def test_lines_have_markers_tooltips_and_last_value_labels():
    root = parse(charts.lines("t", "Totals", "d", ["x1", "x2", "x3"], [("Spectrum", ["100.00", "200.00", "300.00"]), ("Procore", ["0.00", None, "300.00"])]))
    paths = list(root.iter(f"{SVG}path"))
    assert [p.get("class") for p in paths] == ["s0", "s1"]
    assert len(list(root.iter(f"{SVG}circle"))) == 3 + 1, "series 0: circles (3 points, one in the legend)"
    tips = ["".join(t.itertext()) for t in root.iter(f"{SVG}title")][1:]
    assert "Spectrum, x2: $200.00" in tips and "Procore, x3: $300.00" in tips and not any("Procore, x2" in t for t in tips)
    labels = texts(root)
    assert "Spectrum $300.00" in labels and "Procore $300.00" in labels
    ys = [float(t.get("y")) for t in root.iter(f"{SVG}text") if "".join(t.itertext()) in ("Spectrum $300.00", "Procore $300.00")]
    assert abs(ys[0] - ys[1]) >= charts.FONT, "equal last values: the labels do not overlap"


def test_status_bars_count_each_state():
    items = [("Synced", "synced", 4), ("Blocked", "blocked", 2), ("Failed validation", "failed_validation", 0)]
    root = parse(charts.status_bars("s", "Jobs per status", "d", items))
    drawn = bars(root)
    assert [r.get("data-value") for r in drawn] == ["4", "2", "0"]
    assert float(drawn[1].get("width")) == pytest.approx(float(drawn[0].get("width")) / 2, abs=0.02)
    groups = [g.get("class") for g in root.iter(f"{SVG}g")]
    assert groups == ["st-synced", "st-blocked", "st-failed_validation"]
    assert {"Synced", "Blocked", "Failed validation", "4", "2", "0"} <= set(texts(root))
