"""What an unchanged job costs in Procore calls (issue 19: at most 2), and that the savings never cost a
line: a hand edit in Procore is still found and put back on override, a cost code this tool did not
create or a cost type the run's shared list lacks is still identified (never mistaken for a line to delete)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from include.budget_import.load import BudgetLoader, ProjectTarget
from include.budget_import.plan import DesiredLine, plan_merge
from include.budget_import.prerequisites import ProjectDirectory
from include.budget_import.procore.api import ProcoreBudgetApi

from .conftest import COMPANY, PROJECT, Emu

OURS = [DesiredLine("04-400", "L", Decimal("0.01")), DesiredLine("04-400", "E", Decimal("777.70")),
        DesiredLine("05-500", "M", Decimal("1000000.00"))]
NAMES = {"04-400": "Electrical", "05-500": "Finishes"}
TYPES = {"L": "Labor", "M": "Material", "E": "Equipment"}


class Facts(dict[str, Any]):
    """The run's shared company facts (what pipeline.RunCompanyFacts keeps in the run folder)."""

    def put(self, name: str, value: Any) -> None:
        self[name] = value


def load_as_pipeline(emu: Emu, desired: list[DesiredLine], mode: str, facts: Facts) -> tuple[dict[str, int], Any]:
    """pipeline._load's order with a fresh client (a new load task): read, plan; when the plan writes,
    make sure of codes and types, then converge. Returns the calls by endpoint and the first plan."""
    client = emu.client()
    loader = BudgetLoader(ProcoreBudgetApi(client), ProjectTarget("01", "19.50", COMPANY, PROJECT), facts)
    existing = loader.existing_lines()
    plan = plan_merge(desired, existing, mode)
    if plan.write_count:
        loader.ensure_line_item_types({d.cost_type: TYPES[d.cost_type] for d in desired})
        loader.ensure_cost_codes({d.cost_code: NAMES.get(d.cost_code, d.cost_code) for d in desired})
    loader.apply(desired, mode, existing=existing, plan=plan)
    return dict(client.stats.by_endpoint), plan


def test_an_unchanged_job_costs_one_call_when_its_codes_are_ours(emu: Emu) -> None:
    facts = Facts()
    load_as_pipeline(emu, OURS, "override", facts)
    assert emu.budget() == {(d.cost_code, d.cost_type): f"{d.amount:.2f}" for d in OURS}
    calls, plan = load_as_pipeline(emu, OURS, "override", facts)
    assert plan.write_count == 0
    assert calls == {"GET /rest/v1.0/budget_views/{id}/detail_rows": 1}


def test_an_unchanged_job_costs_two_calls_when_procore_holds_codes_made_elsewhere(emu: Emu) -> None:
    """01-100 and 02-200 were made in Procore (no origin_id of ours): the cost code list is read, once."""
    desired = [DesiredLine("01-100", "L", Decimal("1500.00")), DesiredLine("02-200", "M", Decimal("2500.50")), *OURS]
    facts = Facts()
    load_as_pipeline(emu, desired, "override", facts)
    calls, plan = load_as_pipeline(emu, desired, "override", facts)
    assert plan.write_count == 0 and len(plan.keeps) == len(desired)
    assert calls == {"GET /rest/v1.0/budget_views/{id}/detail_rows": 1, "GET /rest/v1.0/cost_codes": 1}


def test_a_hand_edit_in_procore_is_found_and_put_back_on_override(emu: Emu) -> None:
    facts = Facts()
    load_as_pipeline(emu, OURS, "override", facts)
    loader = emu.loader(emu.client())
    line = next(line for line in loader.existing_lines() if line.key == ("05-500", "M"))
    loader.api.sync_budget_line_items(COMPANY, PROJECT, [{"id": line.id, "wbs_code_id": line.wbs_code_id, "original_budget_amount": Decimal("1.00")}])
    assert emu.budget()[("05-500", "M")] == "1.00"
    calls, plan = load_as_pipeline(emu, OURS, "override", facts)
    assert [(u.line.key, u.new_amount) for u in plan.updates] == [(("05-500", "M"), Decimal("1000000.00"))]
    assert emu.budget()[("05-500", "M")] == "1000000.00"
    # writing asks the article's Procore-side prerequisites first: Budget tool, lock, permission
    assert {"GET /rest/v1.0/projects/{id}/tools", "GET /rest/v1.0/projects/{id}/budget", "GET /rest/v1.0/settings/permissions"} <= set(calls)


def test_a_cost_type_the_runs_shared_list_lacks_is_read_again_not_deleted(emu: Emu) -> None:
    """Another job created cost type E after this run listed the company's types: its line is still E's."""
    load_as_pipeline(emu, OURS, "override", Facts())
    stale = Facts()
    load_as_pipeline(emu, OURS[:1], "additive", stale)  # the shared list, then E's id removed from it
    stale["line_item_types"] = {code: type_id for code, type_id in stale["line_item_types"].items() if code != "E"}
    calls, plan = load_as_pipeline(emu, OURS, "override", stale)
    assert plan.write_count == 0, plan.counts()
    assert calls.get("GET /rest/v1.0/line_item_types") == 1


def test_a_batch_lists_the_companys_projects_once(emu: Emu) -> None:
    api = ProcoreBudgetApi(emu.client())
    origins = ["01|19.50", "01|20.10", "01|21.03", "01|99.99"]
    one_by_one = [[p["id"] for p in ProjectDirectory(api, COMPANY).projects(o)] for o in origins]
    emu.admin("DELETE", "/requests")
    directory = ProjectDirectory(api, COMPANY, jobs=len(origins))
    assert [[p["id"] for p in directory.projects(o)] for o in origins] == one_by_one
    assert one_by_one[-1] == [] and all(one_by_one[:-1])
    assert len(emu.requests(method="GET", path_contains="/projects")) == 1
