"""The generator and its oracle: determinism, coverage of the awkward cases, internal consistency."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from standins.spectrum_sample import schema
from standins.spectrum_sample.catalog import COMPANIES_BY_CODE
from standins.spectrum_sample.generate import Dataset
from standins.spectrum_sample.load import build
from standins.spectrum_sample.oracle import BLOCK_ORDER, classify

AWKWARD_TAGS = {
    "unposted_estimate_entry", "zero_estimate_with_jtd", "negative_estimate", "no_estimate_no_cost",
    "duplicate_key", "null_description", "description_too_long", "trailing_space_phase_code",
    "trailing_space_cost_type", "non_ascii_description", "estimate_more_than_2_decimals", "jtd_more_than_2_decimals",
    "unknown_cost_type", "blank_phase_code", "blank_cost_type", "huge_amount", "jtd_without_estimate",
    "duplicate_after_trim", "description_trailing_spaces", "description_exactly_25_chars", "negative_jtd",
    "zero_estimate_net_zero_cost",
}
MAX_MONEY = Decimal("99999999999.9999")


def _write(tmp_path, name, **kw):
    m, f = tmp_path / f"{name}.json", tmp_path / f"{name}_fixture.json"
    build(Dataset(**kw), manifest_path=str(m), fixture_path=str(f))
    return m.read_bytes(), f.read_bytes()


def test_same_seed_same_manifest_and_fixture(tmp_path):
    assert _write(tmp_path, "a", profile="demo", seed=7) == _write(tmp_path, "b", profile="demo", seed=7)
    a = _write(tmp_path, "c", profile="scale", seed=3, jobs=4, lines=30)
    assert a == _write(tmp_path, "d", profile="scale", seed=3, jobs=4, lines=30)


def test_other_seed_other_amounts_same_scenarios(tmp_path):
    a = json.loads(_write(tmp_path, "a", profile="demo", seed=7)[0])
    b = json.loads(_write(tmp_path, "b", profile="demo", seed=8)[0])
    assert a != b
    statuses = lambda m: [(j["company_code"], j["job_number"], j["blocked_reason"]) for j in m["jobs"]]  # noqa: E731
    assert statuses(a) == statuses(b)


def test_demo_jobs_and_blocked_reasons(demo_manifest):
    jobs = demo_manifest["jobs"]
    assert 10 <= len(jobs) <= 16
    assert {j["company_code"] for j in jobs} == {"01", "02"}
    reasons = Counter(j["blocked_reason"] for j in jobs if j["expected_status"] == "blocked")
    # every job-level reason once (no_permission depends on the API client: see companies[].clients)
    assert reasons == Counter(r for r in BLOCK_ORDER if r != "no_permission")
    for c in demo_manifest["companies"]:
        assert [cl["blocked_reason"] for cl in c["clients"]] == [None, "no_permission", None]
    for j in jobs:
        assert (j["expected_status"] == "ready") == (j["blocked_reason"] is None)
        assert all(3 <= len(ln) for ln in j["lines"])
        if j["in_spectrum"] and j["job_number"] != "20.00":
            assert 5 <= len(j["lines"]) <= 40, j["job_number"]
    not_linked = [j for j in jobs if j["blocked_reason"] == "not_linked"]
    assert not_linked[0]["procore_project_id"] is None
    # clean ready jobs exist next to the awkward ones
    clean = [j for j in jobs if j["expected_status"] == "ready" and j["lines"]
             and all(ln["expected_outcome"] == "line_item" for ln in j["lines"])]
    assert len(clean) >= 2


def test_every_awkward_case_sits_in_an_otherwise_importable_job(demo_manifest):
    seen = Counter()
    for j in demo_manifest["jobs"]:
        for ln in j["lines"]:
            for tag in ln["tags"]:
                seen[tag] += 1
                if tag != "unposted_estimate_entry":  # that one blocks its job by design
                    assert j["expected_status"] == "ready", (j["job_number"], tag)
    assert AWKWARD_TAGS <= set(seen), AWKWARD_TAGS - set(seen)
    outcomes = Counter(ln["reason"] for j in demo_manifest["jobs"] for ln in j["lines"] if ln["reason"])
    assert set(outcomes) == {"missing_key", "duplicate_key", "unknown_cost_type", "amount_precision",
                             "description_too_long", "negative_estimate", "no_estimate_or_cost",
                             "estimate_not_positive"}


def _line(m, company, job, phase, ct):
    j = next(j for j in m["jobs"] if (j["company_code"], j["job_number"]) == (company, job))
    return [ln for ln in j["lines"] if (ln["phase_code"], ln["cost_type"]) == (phase, ct)]


def test_expected_outcomes_of_the_hand_written_cases(demo_manifest):
    m = demo_manifest
    cases = [
        ("01", "20.01", "", "M", "rejected", "missing_key"),
        ("01", "20.01", "06-100", "X", "rejected", "unknown_cost_type"),
        ("01", "20.01", "07-200", "M", "rejected", "amount_precision"),
        ("01", "20.01", "07-500", "S", "rejected", "amount_precision"),
        ("01", "20.01", "01-500", "O", "rejected", "description_too_long"),
        ("01", "20.01", "09-900", "S", "rejected", "negative_estimate"),
        ("01", "20.01", "05-100", "L", "line_item", None),
        ("01", "20.01", "04-200", "M", "line_item", None),
        ("01", "20.02", "02-300", "E", "skipped", "estimate_not_positive"),
        ("01", "20.02", "02-200", "O", "skipped", "estimate_not_positive"),
        ("01", "20.02", "10-800", "M", "skipped", "no_estimate_or_cost"),
        ("01", "20.02", "12-500", "S", "skipped", "no_estimate_or_cost"),
        ("01", "20.02", "08-100", "M", "line_item", None),
        ("01", "20.02", "03-310", "L", "line_item", None),
        ("01", "20.02", "03-100", "M", "line_item", None),
        ("01", "20.02", "15-500", "S", "line_item", None),
        ("01", "20.02", "04-200", "M", "line_item", None),
        ("02", "4440", "01-100", "L", "rejected", "unknown_cost_type"),
        ("02", "4440", "09-200", "", "rejected", "missing_key"),
        ("02", "4440", "09-300", "2", "rejected", "amount_precision"),
        ("02", "4440", "16-100", "3", "line_item", None),
    ]
    for company, job, phase, ct, outcome, reason in cases:
        (ln,) = _line(m, company, job, phase, ct)
        assert (ln["expected_outcome"], ln["reason"]) == (outcome, reason), (job, phase, ct)
    for company, job, phase, ct in [("01", "20.01", "05-100", "S"), ("02", "4440", "06-100", "2")]:
        rows = _line(m, company, job, phase, ct)
        assert len(rows) == 2 and {(r["expected_outcome"], r["reason"]) for r in rows} == {("rejected", "duplicate_key")}
    (huge,) = _line(m, "01", "20.02", "15-500", "S")
    assert huge["original_estimate"] == "98765432109.9900" and huge["budget_amount"] == "98765432109.99"
    (precise,) = _line(m, "01", "20.01", "07-200", "M")
    assert precise["original_estimate"] == "1234.5675"
    (padded,) = _line(m, "01", "20.02", "03-310", "L")
    assert (padded["phase_code_raw"], padded["cost_type_raw"]) == ("03-310  ", "L ")
    (nonascii,) = _line(m, "01", "20.02", "03-100", "M")
    assert nonascii["description"] == "Béton coulé — niveau 2"
    assert _line(m, "02", "4440", "16-100", "3")[0]["description"] == "電気"


def test_classify_precedence():
    cts = frozenset({"L"})
    d = Decimal
    assert classify("", "X", "x" * 40, d("-1.001"), d(0), True, cts) == ("rejected", "missing_key")
    assert classify("01", "X", "x" * 40, d("-1.001"), d(0), True, cts) == ("rejected", "duplicate_key")
    assert classify("01", "X", "x" * 40, d("-1.001"), d(0), False, cts) == ("rejected", "unknown_cost_type")
    assert classify("01", "L", "x" * 40, d("-1.001"), d(0), False, cts) == ("rejected", "amount_precision")
    assert classify("01", "L", "x" * 40, d("-1.00"), d("0.005"), False, cts) == ("rejected", "amount_precision")
    assert classify("01", "L", "x" * 26, d("-1.00"), d(0), False, cts) == ("rejected", "description_too_long")
    assert classify("01", "L", "x" * 25, d("-1.00"), d(0), False, cts) == ("rejected", "negative_estimate")
    assert classify("01", "L", None, None, d(0), False, cts) == ("skipped", "no_estimate_or_cost")
    assert classify("01", "L", None, d(0), d(5), False, cts) == ("skipped", "estimate_not_positive")
    assert classify("01", "L", None, d("1.5000"), d(0), False, cts) == ("line_item", None)


def test_budgets_override_versus_keep_existing(demo_manifest):
    for j in demo_manifest["jobs"]:
        items = {f"{ln['phase_code']}|{ln['cost_type']}": ln["budget_amount"]
                 for ln in j["lines"] if ln["expected_outcome"] == "line_item"}
        if j["expected_status"] == "ready":
            assert j["expected_budget"] == items
            assert j["expected_budget_keep_existing"] == {**items, **j["existing_procore_budget"]}
        else:
            assert j["expected_budget"] == j["existing_procore_budget"] == j["expected_budget_keep_existing"]
        for amount in j["expected_budget"].values():
            assert Decimal(amount) > 0 and Decimal(amount) == Decimal(amount).quantize(Decimal("0.01"))
            assert len(amount.split(".")[1]) == 2
    riverside = next(j for j in demo_manifest["jobs"] if j["procore_project_id"] == 2001)
    existing = riverside["existing_procore_budget"]
    assert existing["01-100|L"] == "1500.00" and riverside["expected_budget"]["01-100|L"] == "1850.00"
    assert existing["01-200|L"] == riverside["expected_budget"]["01-200|L"]  # one unchanged
    assert "99-900|O" not in riverside["expected_budget"]  # Spectrum lacks it
    assert riverside["expected_budget_keep_existing"]["99-900|O"] == "25000.00"
    assert riverside["expected_budget"] != riverside["expected_budget_keep_existing"]


def _rows_by_job(ds):
    yield from ds.iter_jobs()


@pytest.mark.parametrize("kw", [dict(profile="demo"), dict(profile="scale", jobs=6, lines=120, dirty_rate=0.2)])
def test_rows_fit_the_schema_and_are_consistent(kw):
    ds = Dataset(**kw)
    P = {c: i for i, c in enumerate(schema.JC_PHASE_MASTER_MC.column_names)}
    E = {c: i for i, c in enumerate(schema.JC_PHASE_ESTIMATES_MC.column_names)}
    T = {c: i for i, c in enumerate(schema.JC_TRANSACTION_HISTORY_MC.column_names)}
    for b in ds.iter_jobs():
        for table, rows in b.rows.items():
            t = schema.TABLES_BY_NAME[table]
            for row in rows:
                assert len(row) == len(t.columns)
                for col, v in zip(t.columns, row, strict=True):
                    if v is None:
                        assert col.nullable, (table, col.name)
                    elif col.kind == "varchar":
                        assert isinstance(v, str) and len(v) <= col.size, (table, col.name, v)
                        # SQL Server's UTF-8 varchar(n) counts bytes
                        assert len(v.encode("utf-8")) <= col.size, (table, col.name, v)
                    else:
                        assert isinstance(v, Decimal), (table, col.name, type(v))
                        assert v.as_tuple().exponent == -4 and abs(v) <= MAX_MONEY, (table, col.name, v)
        if b.job_row is None:
            continue
        assert b.job_row[1] == b.job_number.rjust(10) and b.job_row[1] != b.job_number
        # Original_Est_Cost = SUM of the posted estimate entries of the (raw) key; exact duplicates share theirs
        posted = defaultdict(list)
        for e in b.rows["JC_PHASE_ESTIMATES_MC"]:
            if e[E["Posted_Status"]] == "P":
                posted[(e[E["Phase_Code"]], e[E["Cost_Type"]])].append(e[E["Est_Cost"]])
        by_key = defaultdict(list)
        for r in b.rows["JC_PHASE_MASTER_MC"]:
            by_key[(r[P["Phase_Code"]], r[P["Cost_Type"]])].append(r[P["Original_Est_Cost"]])
        for key, estimates in by_key.items():
            entries = posted.get(key)
            if all(e is None for e in estimates):
                assert not entries
            else:
                assert sum(entries) == sum(e for e in estimates if e is not None), key
        # JTD grouped on raw keys equals JTD grouped on trimmed keys (the oracle's rule), for every line
        raw, trimmed = defaultdict(Decimal), defaultdict(Decimal)
        for t in b.rows["JC_TRANSACTION_HISTORY_MC"]:
            raw[(t[T["Phase_Code"]], t[T["Cost_Type"]])] += t[T["Tran_Amount"]]
            trimmed[(t[T["Phase_Code"]].strip(" "), t[T["Cost_Type"]].strip(" "))] += t[T["Tran_Amount"]]
        for r, ln in zip(b.rows["JC_PHASE_MASTER_MC"], b.manifest["lines"], strict=True):
            assert raw.get((r[P["Phase_Code"]], r[P["Cost_Type"]]), 0) == Decimal(ln["jtd_cost"])
            assert trimmed.get((ln["phase_code"], ln["cost_type"]), 0) == Decimal(ln["jtd_cost"])


def test_procore_fixture(tmp_path, demo_manifest):
    path = tmp_path / "fixture.json"
    build(Dataset("demo"), fixture_path=str(path))
    fixture = json.loads(path.read_text(encoding="utf-8"))
    companies = {c["id"]: c for c in fixture["companies"]}
    assert set(companies) == {1001, 1002}
    installs = {c["id"]: {cl["client_id"]: cl["permission"] for cl in c["clients"]} for c in fixture["companies"]}
    # one app installed in both companies, as in Procore
    assert installs[1001] == installs[1002] == {"demo-client": "standard", "viewer-client": "read_only", "admin-client": "admin"}
    assert [lt["code"] for lt in companies[1001]["line_item_types"]] == ["L", "M", "S", "E", "O"]
    assert [lt["code"] for lt in companies[1002]["line_item_types"]] == ["1", "2", "3", "4"]
    assert companies[1001]["line_item_types"][0] == {"code": "L", "name": "Labor", "base_type": "labor",
                                                     "origin_id": "01|L"}
    projects = {p["id"]: (c, p) for c in fixture["companies"] for p in c["projects"]}
    for j in demo_manifest["jobs"]:
        if j["procore_project_id"] is None:
            continue
        company, p = projects[j["procore_project_id"]]
        assert company["id"] == COMPANIES_BY_CODE[j["company_code"]].procore_company_id
        assert p["origin_id"] == f"{j['company_code']}|{j['job_number']}" and p["project_number"] == j["job_number"]
        assert {f"{li['cost_code']}|{li['line_item_type']}": li["original_budget_amount"]
                for li in p["budget_line_items"]} == j["existing_procore_budget"]
        codes = {cc["code"] for cc in p["cost_codes"]}
        assert {li["cost_code"] for li in p["budget_line_items"]} <= codes
    # the unlinked look-alike of job 01|22.00 and the flags of the blocked projects
    lookalike = [p for _, p in projects.values() if p["project_number"] == "22.00"]
    assert len(lookalike) == 1 and lookalike[0]["origin_id"] is None
    flags = {p["id"]: (p["budget_tool_active"], p["budget_locked"]) for _, p in projects.values()}
    assert sorted(flags.values()).count((True, False)) == len(flags) - 2
    assert (False, False) in flags.values() and (True, True) in flags.values()
    with_lines = [p for _, p in projects.values() if p["budget_line_items"]]
    assert len(with_lines) == 1


def test_fixture_loads_into_the_procore_emulator(demo_build):
    emulator_fixture = pytest.importorskip("standins.procore_emulator.fixture")
    tables, _ = emulator_fixture.build(demo_build["fixture"])
    assert len(tables["projects"][1]) == 14
    assert len(tables["budget_line_items"][1]) == 5
