"""The snapshot people read before an override: real PDFs rendered with fpdf2 and read back with pypdf,
and snapshot.json (what restore reads, old and new) restored into the Procore emulator over HTTP."""
from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import requests
from pypdf import PdfReader

from include.budget_import import snapshot
from include.budget_import.load import BudgetLoader, ProjectTarget
from include.budget_import.plan import DesiredLine, ExistingLine, MergePlan, plan_merge
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.client import ProcoreClient
from include.budget_import.snapshot import (
    local_time,
    render_pdf,
    restore,
    snapshot_label,
    snapshot_payload,
    write_snapshot,
)
from standins.procore_emulator.server import EmulatorServer

TAKEN = "2026-12-01T23:25:00+00:00"
RUN_ID = "manual__2026-12-01T23:25:00+00:00"
READY = {"company_code": "01", "job_number": "20.01", "procore_company_id": 1001, "procore_project_id": 2001,
         "procore_project_name": "Harbor Campus Bldg A", "procore_project_number": "2026-014", "job_description": "Harbor Campus building A",
         "company_name": "Acme Builders", "stored_job_number": "   20.01", "master_job": None}
NAMES = {"cost_codes": {"01-100": "General Conditions", "02-200": "Site Work", "03-300": "Concrete", "04-400": "Electrical", "05-500": "Finishes",
                        "06-600": "Allowances"},
         "cost_types": {"L": "Labor", "M": "Material", "S": "Subcontract", "E": "Equipment"}}
EXISTING = [ExistingLine(11, "01-100", "L", D("1000.00")), ExistingLine(12, "02-200", "M", D("500.00")),
            ExistingLine(13, "03-300", "S", D("20.00")), ExistingLine(14, "06-600", "L", D("1234.56")),
            ExistingLine(15, "04-400", "E", D("75.25"))]
DESIRED = [DesiredLine("01-100", "L", D("1200.00")),  # update +$200.00
           DesiredLine("02-200", "M", D("500.00")),   # keep: already equal
           DesiredLine("04-400", "E", D("50.00")),    # update -$25.25
           DesiredLine("05-500", "M", D("-1234.56"), "Finishes (credit)")]  # create (a credit line)
REJECTED = {("06-600", "L"): "bad_amount"}  # 06-600 L: Spectrum's row unreadable: kept; 03-300 S: not in Spectrum: deleted


@pytest.fixture(autouse=True)
def utc_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUDGET_IMPORT_TIMEZONE", raising=False)
    monkeypatch.delenv("AIRFLOW__CORE__DEFAULT_TIMEZONE", raising=False)


def override_plan() -> MergePlan:
    return plan_merge(DESIRED, EXISTING, "override", REJECTED)


def pdf_text(path: Path) -> list[str]:
    """Each page's text as pypdf extracts it."""
    return [page.extract_text() for page in PdfReader(str(path)).pages]


def rows_of(pages: list[str]) -> list[str]:
    return [line for page in pages for line in page.splitlines()]


def render(tmp_path: Path, payload: dict[str, Any]) -> list[str]:
    _, pdf = write_snapshot(tmp_path, payload)
    return pdf_text(pdf)


# --- the header ----------------------------------------------------------------------------------
def test_the_header_names_company_project_job_run_and_local_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDGET_IMPORT_TIMEZONE", "America/Chicago")
    pages = render(tmp_path, snapshot_payload(snapshot_label(READY, RUN_ID), EXISTING, TAKEN, plan=override_plan(), names=NAMES))
    first = pages[0]
    assert "Spectrum company 01 - Acme Builders" in first
    assert "Spectrum job 20.01 - Harbor Campus building A" in first
    assert "Harbor Campus Bldg A (No. 2026-014)" in first and "project id 2001" in first
    assert f"Airflow run {RUN_ID}" in first
    assert "Taken 2026-12-01 17:25 CST (America/Chicago)" in first
    assert "Page 1 of 1" in first


def test_the_time_zone_is_budget_import_s_then_airflow_s_then_utc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert local_time(TAKEN) == ("2026-12-01 23:25 UTC", "UTC")
    monkeypatch.setenv("AIRFLOW__CORE__DEFAULT_TIMEZONE", "utc")
    assert local_time(TAKEN)[0] == "2026-12-01 23:25 UTC"
    monkeypatch.setenv("AIRFLOW__CORE__DEFAULT_TIMEZONE", "Europe/Madrid")
    assert local_time(TAKEN) == ("2026-12-02 00:25 CET (Europe/Madrid)", "Europe/Madrid")
    monkeypatch.setenv("BUDGET_IMPORT_TIMEZONE", "America/Chicago")
    assert local_time("2026-07-01T23:25:00+00:00")[0] == "2026-07-01 18:25 CDT (America/Chicago)"  # daylight time in July
    monkeypatch.setenv("BUDGET_IMPORT_TIMEZONE", "Not/AZone")  # unknown: passed over, never a wrong zone
    assert local_time(TAKEN)[0] == "2026-12-02 00:25 CET (Europe/Madrid)"

    monkeypatch.delenv("BUDGET_IMPORT_TIMEZONE")
    monkeypatch.delenv("AIRFLOW__CORE__DEFAULT_TIMEZONE")
    payload = snapshot_payload(snapshot_label(READY, RUN_ID), EXISTING, TAKEN)
    assert (payload["taken_at"], payload["taken_at_local"], payload["time_zone"]) == (TAKEN, "2026-12-01 23:25 UTC", "UTC")
    assert "Taken 2026-12-01 23:25 UTC" in render(tmp_path, payload)[0]


def test_a_150_line_budget_numbers_every_page_and_repeats_the_column_headings(tmp_path: Path) -> None:
    existing = [ExistingLine(i + 1, f"{i:03d}-100", "L", D("1000.00") + i) for i in range(150)]
    desired = [DesiredLine(f"{i:03d}-100", "L", D("1000.00") + i + (1 if i % 2 else 0)) for i in range(150)]
    names = {"cost_codes": {f"{i:03d}-100": f"Phase {i}" for i in range(150)}, "cost_types": {"L": "Labor"}}
    pages = render(tmp_path, snapshot_payload(snapshot_label(READY, RUN_ID), existing, TAKEN, plan=plan_merge(desired, existing, "override"), names=names))
    n = len(pages)
    assert n >= 3, "150 lines span pages"
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {n}" in page
        if " L Labor $" in page:
            assert "Cost code Cost type Amount Planned change" in page, f"page {number} lacks the column headings"
        if number > 1:  # a loose page still says what it is of
            assert "Spectrum job 01/20.01" in page.splitlines()[0] and "Harbor Campus Bldg A" in page.splitlines()[0]
    rows = rows_of(pages)
    assert "000-100 Phase 0 L Labor $1,000.00 keep (already equal)" in rows
    assert "149-100 Phase 149 L Labor $1,149.00 update to $1,150.00 (+$1.00)" in rows
    assert sum(1 for row in rows if " L Labor $" in row) == 150, "every line once, none lost at a page break"


# --- the lines, their names and what the import would do -------------------------------------------
def test_each_line_shows_its_names_and_what_the_override_would_do(tmp_path: Path) -> None:
    rows = rows_of(render(tmp_path, snapshot_payload(snapshot_label(READY, RUN_ID), EXISTING, TAKEN, plan=override_plan(), names=NAMES)))
    assert "01-100 General Conditions L Labor $1,000.00 update to $1,200.00 (+$200.00)" in rows
    assert "02-200 Site Work M Material $500.00 keep (already equal)" in rows
    assert "03-300 Concrete S Subcontract $20.00 delete" in rows
    assert "04-400 Electrical E Equipment $75.25 update to $50.00 (-$25.25)" in rows
    assert "06-600 Allowances L Labor $1,234.56 keep (Spectrum row rejected: bad_amount)" in rows


def test_the_creates_and_the_totals_follow_the_table(tmp_path: Path) -> None:
    payload = snapshot_payload(snapshot_label(READY, RUN_ID), EXISTING, TAKEN, plan=override_plan(), names=NAMES)
    text = "\n".join(render(tmp_path, payload))
    rows = text.splitlines()
    assert "Existing total $2,829.81" in rows  # 1000 + 500 + 20 + 1234.56 + 75.25
    assert "Lines the import would create (1)" in rows
    assert "05-500 Finishes M Material -$1,234.56 create" in rows
    # after: 1200 + 500 + 50 + 1234.56 (kept) - 1234.56 (created credit); 03-300 deleted
    assert "Existing total (5 line items) $2,829.81" in rows
    assert "Total after the import (5 line items) $1,750.00" in rows
    assert "Difference -$1,079.81" in rows
    assert text.index("Existing total $2,829.81") < text.index("Lines the import would create") < text.index("Difference")


def test_an_additive_plan_keeps_every_existing_line(tmp_path: Path) -> None:
    plan = plan_merge(DESIRED, EXISTING, "additive", REJECTED)
    payload = snapshot_payload(snapshot_label(READY, RUN_ID), EXISTING, TAKEN, plan=plan, names=NAMES)
    rows = rows_of(render(tmp_path, payload))
    assert "Procore budget before an additive import" in rows
    for line in EXISTING:
        assert next(r for r in rows if r.startswith(f"{line.cost_code} ")).endswith(" keep")
    assert "05-500 Finishes M Material -$1,234.56 create" in rows
    assert "Difference -$1,234.56" in rows and payload["total_after"] == "1595.25"


def test_snapshot_json_keeps_restore_s_keys_and_adds_names_and_the_plan() -> None:
    payload = snapshot_payload(snapshot_label(READY, RUN_ID), EXISTING, TAKEN, plan=override_plan(), names=NAMES)
    assert {k: payload[k] for k in ("company_code", "job_number", "procore_company_id", "project_id")} == \
        {"company_code": "01", "job_number": "20.01", "procore_company_id": 1001, "project_id": 2001}
    assert (payload["procore_project_name"], payload["procore_project_number"], payload["job_description"], payload["company_name"], payload["run_id"]) == \
        ("Harbor Campus Bldg A", "2026-014", "Harbor Campus building A", "Acme Builders", RUN_ID)
    assert "stored_job_number" not in payload and "master_job" not in payload
    assert (payload["line_count"], payload["total"], payload["taken_at"]) == (5, "2829.81", TAKEN)
    by_code = {line["cost_code"]: line for line in payload["lines"]}
    assert by_code["01-100"] == {"id": 11, "cost_code": "01-100", "cost_type": "L", "amount": "1000.00", "cost_code_description": "General Conditions",
                                 "cost_type_name": "Labor", "planned": {"action": "update", "amount_after": "1200.00", "difference": "200.00"}}
    assert by_code["03-300"]["planned"] == {"action": "delete", "amount_after": None, "difference": "-20.00"}
    assert by_code["06-600"]["planned"]["action"] == "keep" and "bad_amount" in by_code["06-600"]["planned"]["note"]
    assert payload["planned_creates"] == [{"cost_code": "05-500", "cost_type": "M", "amount": "-1234.56", "cost_code_description": "Finishes",
                                           "cost_type_name": "Material"}]
    assert (payload["planned_mode"], payload["planned_counts"]) == ("override", {"create": 1, "update": 2, "delete": 1, "keep": 2})
    assert (payload["total_after"], payload["difference"], payload["line_count_after"]) == ("1750.00", "-1079.81", 5)
    json.dumps(payload)  # plain JSON: amounts are text, never floats

    bare = snapshot_payload(snapshot_label(READY), [ExistingLine(1, "99-900", "O", D("0.10")), ExistingLine(2, "98-900", "O", D("0.20"))], TAKEN)
    assert bare["lines"][0] == {"id": 1, "cost_code": "99-900", "cost_type": "O", "amount": "0.10"}, "no names known: no name keys"
    assert bare["total"] == "0.30" and "planned_mode" not in bare and "run_id" not in bare


def test_a_review_snapshot_says_it_is_for_review(tmp_path: Path) -> None:
    payload = snapshot_payload(snapshot_label(READY, RUN_ID), EXISTING, TAKEN, plan=override_plan(), names=NAMES) | {"stage": "review"}
    first = render(tmp_path, payload)[0]
    assert "Procore budget before the import (for review)" in first and "override (if chosen at review): 2 to update" in first


# --- long and non-Latin text ---------------------------------------------------------------------
def test_a_megabyte_description_is_cut_for_display_and_hides_no_line(tmp_path: Path) -> None:
    huge = "Concrete foundations and slab on grade " + "x" * 1_000_000
    names = {"cost_codes": {**NAMES["cost_codes"], "03-300": huge}, "cost_types": {**NAMES["cost_types"], "S": "S" * 5000}}
    payload = snapshot_payload(snapshot_label(READY | {"job_description": huge}, RUN_ID), EXISTING, TAKEN, plan=override_plan(), names=names)
    _, pdf = write_snapshot(tmp_path, payload)
    pages = pdf_text(pdf)
    assert len(pages) == 1 and pdf.stat().st_size < 200_000
    text = "\n".join(pages)
    assert "03-300 Concrete foundations and slab on grade" in text and "…" in text
    assert "x" * 61 not in text.replace("\n", "") and "S" * 61 not in text.replace("\n", "")
    for code in ("01-100", "02-200", "04-400", "06-600", "05-500"):  # every other line still shown
        assert f"{code} " in text
    assert "$20.00" in text and "delete" in text


def test_spanish_arabic_and_chinese_text_render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "FALLBACK_FONTS", ())  # DejaVu alone: no CJK glyphs
    names = {"cost_codes": {"01-100": "Presupuesto de construcción — año", "02-200": "تكاليف العمالة", "03-300": "混凝土工程"},
             "cost_types": {"L": "Mano de obra", "M": "Material", "S": "Subcontrato"}}
    text = "\n".join(render(tmp_path, snapshot_payload(snapshot_label(READY), EXISTING[:3], TAKEN, names=names)))
    assert "01-100 Presupuesto de construcción — año L Mano de obra $1,000.00" in text
    assert "تكاليف" in text or "تكاليف"[::-1] in text  # drawn right to left: extractors give either order
    assert "03-300 ????? S Subcontrato" in text, "a glyph no font has is '?', never silently dropped"


def test_chinese_is_drawn_with_an_installed_cjk_fallback_font(tmp_path: Path) -> None:
    """apt-packages.txt (and the Dockerfile) install fonts-droid-fallback: `make setup` puts it here."""
    assert any(p.is_file() for p in snapshot.FALLBACK_FONTS), "no CJK fallback font: run `make setup` (fonts-droid-fallback)"
    names = {"cost_codes": {"01-100": "混凝土工程"}, "cost_types": {}}
    assert "01-100 混凝土工程" in "\n".join(render(tmp_path, snapshot_payload(snapshot_label(READY), EXISTING[:1], TAKEN, names=names)))


def test_without_the_dejavu_font_the_core_font_shows_latin_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "UNICODE_FONT", tmp_path / "missing.ttf")
    names = {"cost_codes": {"01-100": "Presupuesto de construcción", "02-200": "混凝土" + "y" * 100}, "cost_types": {"L": "Labor"}}
    plan = plan_merge(DESIRED[:2], EXISTING[:2], "override")
    text = "\n".join(render(tmp_path, snapshot_payload(snapshot_label(READY, RUN_ID), EXISTING[:2], TAKEN, plan=plan, names=names)))
    assert "01-100 Presupuesto de construcción L Labor $1,000.00 update to $1,200.00 (+$200.00)" in text
    assert "???yyy" in text and "y..." in text and "y" * 60 not in text.replace("\n", "")  # cut with the core font's '...'
    assert "Page 1 of 1" in text


# --- old snapshots ---------------------------------------------------------------------------------
OLD_SNAPSHOT = {  # as written before the PDF named anything: no names, no plan, no local time
    "company_code": "01", "job_number": "19.50", "procore_company_id": 1001, "project_id": 2001, "taken_at": "2026-11-20T02:30:40+00:00",
    "line_count": 2, "total": "26500.00",
    "lines": [{"id": 1, "cost_code": "01-100", "cost_type": "L", "amount": "1500.00"},
              {"id": 2, "cost_code": "99-900", "cost_type": "O", "amount": "25000.00"}],
}


def test_an_old_snapshot_renders_without_the_parts_it_lacks(tmp_path: Path) -> None:
    render_pdf(OLD_SNAPSHOT, tmp_path / "old.pdf")
    rows = rows_of(pdf_text(tmp_path / "old.pdf"))
    assert "Taken 2026-11-20 02:30 UTC" in rows and "Planned import none attached: the budget as it stood" in rows
    assert "99-900 O $25,000.00" in rows and "Existing total $25,500.00" not in rows and "Existing total $26,500.00" in rows


@pytest.fixture(scope="module")
def procore(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    folder = tmp_path_factory.mktemp("snapshot_restore")
    fixture = {"companies": [{
        "id": 1001, "name": "Acme Builders", "clients": [{"client_id": "import-client", "client_secret": "s3cr3t", "permission": "standard"}],
        "line_item_types": [{"code": "L", "name": "Labor", "base_type": "labor"}, {"code": "M", "name": "Material", "base_type": "material"}],
        "projects": [{"id": 2001, "name": "Riverside Clinic", "project_number": "19.50", "origin_id": "01|19.50",
                      "cost_codes": [{"code": "01-100", "name": "General Conditions"}, {"code": "02-200", "name": "Site Work"}],
                      "budget_line_items": [{"cost_code": "01-100", "line_item_type": "L", "original_budget_amount": "1750.00"},
                                            {"cost_code": "02-200", "line_item_type": "M", "original_budget_amount": "80.00"}]}],
    }]}
    (folder / "fixture.json").write_text(json.dumps(fixture), encoding="utf-8")
    with EmulatorServer(folder / "procore.db", folder / "fixture.json") as server:
        yield server


def restore_into(server: EmulatorServer, payload: dict[str, Any], path: Path) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Restore a snapshot file into a freshly seeded emulator: Procore's budget afterwards ("code|type" ->
    amount), its cost codes and line item types (code -> name), read through Procore's API."""
    requests.post(f"{server.base_url}/_emulator/reset", timeout=30).raise_for_status()
    path.write_text(json.dumps(payload), encoding="utf-8")
    client = ProcoreClient(session=requests.Session(), api_base=server.base_url, login_url=server.base_url, client_id="import-client",
                           client_secret="s3cr3t", timeout=(10.0, 60.0), max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.1)
    api = ProcoreBudgetApi(client)
    restore(BudgetLoader(api, ProjectTarget("01", "19.50", 1001, 2001)), path)
    state = requests.get(f"{server.base_url}/_emulator/state", params={"project_id": 2001}, timeout=30).json()
    budget = {f"{line['cost_code']}|{line['line_item_type']}": str(line["original_budget_amount"]) for line in state["budget_line_items"]}
    codes = {str(c.get("full_code") or c.get("code")): str(c.get("name")) for c in api.cost_codes(1001, 2001)}
    types = {str(t.get("code")): str(t.get("name")) for t in api.line_item_types(1001, project_id=2001)}
    return budget, codes, types


def test_restore_reads_an_old_format_snapshot(procore: EmulatorServer, tmp_path: Path) -> None:
    budget, codes, types = restore_into(procore, OLD_SNAPSHOT, tmp_path / "snapshot.json")
    assert budget == {"01-100|L": "1500.00", "99-900|O": "25000.00"}
    assert (codes["99-900"], types["O"]) == ("99-900", "O"), "an old snapshot knows no names: the code is the name"


def test_restore_of_a_new_snapshot_gives_re_created_codes_their_names(procore: EmulatorServer, tmp_path: Path) -> None:
    existing = [ExistingLine(1, "01-100", "L", D("1500.00")), ExistingLine(2, "99-900", "O", D("25000.00"))]
    names = {"cost_codes": {"01-100": "General Conditions", "99-900": "Owner allowance"}, "cost_types": {"L": "Labor", "O": "Other"}}
    payload = snapshot_payload(snapshot_label(READY | {"job_number": "19.50"}, RUN_ID), existing, TAKEN,
                               plan=plan_merge([DesiredLine("01-100", "L", D("1750.00"))], existing, "override"), names=names)
    budget, codes, types = restore_into(procore, payload, tmp_path / "snapshot.json")
    assert budget == {"01-100|L": "1500.00", "99-900|O": "25000.00"}
    assert (codes["99-900"], types["O"]) == ("Owner allowance", "Other")
