"""When an unattended override must wait for a person, and what a person reads before choosing."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from include.budget_import.plan import DesiredLine, ExistingLine, plan_merge
from include.budget_import.review import asks_a_person, needs_review, review_body

EXISTING = [ExistingLine(1, "01-100", "L", D("1000.00"), 11), ExistingLine(2, "02-200", "M", D("500.00"), 12),
            ExistingLine(3, "03-300", "S", D("20.00"), 13), ExistingLine(4, "04-400", "E", D("10.00"), 14)]


def test_an_override_deleting_every_line_is_held() -> None:
    plan = plan_merge([], EXISTING, "override")
    assert "delete all 4 budget lines ($1530.00)" in (needs_review(plan, EXISTING) or "")


def test_shares_of_lines_and_of_value_hold_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    keep_big = [DesiredLine("01-100", "L", D("1000.00")), DesiredLine("02-200", "M", D("500.00"))]
    small = plan_merge(keep_big, EXISTING, "override")  # deletes 2 of 4 lines, $30 of $1,530
    assert needs_review(small, EXISTING) is None
    monkeypatch.setenv("BUDGET_IMPORT_MAX_DELETE_SHARE", "0.25")
    assert "delete 2 of 4 budget lines" in (needs_review(small, EXISTING) or "")
    monkeypatch.delenv("BUDGET_IMPORT_MAX_DELETE_SHARE")
    big = plan_merge([DesiredLine("03-300", "S", D("20.00")), DesiredLine("04-400", "E", D("10.00")),
                      DesiredLine("02-200", "M", D("500.00"))], EXISTING, "override")  # 1 of 4 lines, but $1,000 of $1,530
    assert "$1000.00 of $1530.00" in (needs_review(big, EXISTING) or "")
    monkeypatch.setenv("BUDGET_IMPORT_MAX_DELETE_VALUE_SHARE", "2")
    with pytest.raises(ValueError, match="between 0 and 1"):
        needs_review(big, EXISTING)


def test_a_rejected_spectrum_row_keeps_its_procore_line() -> None:
    plan = plan_merge([DesiredLine("01-100", "L", D("1000.00"))], EXISTING[:2], "override", {("02-200", "M"): "duplicate_key"})
    assert plan.deletes == [] and [k.note for k in plan.keeps if k.line.id == 2] == ["kept: Spectrum row rejected (duplicate_key)"]
    assert plan_merge([DesiredLine("01-100", "L", D("1000.00"))], EXISTING[:2], "override").deletes == [EXISTING[1]]


def test_who_is_asked_and_what_they_read() -> None:
    assert asks_a_person("auto", 4, dry_run=False) and not asks_a_person("auto", 0, dry_run=False)
    assert asks_a_person("always", 0, dry_run=False) and not asks_a_person("never", 4, dry_run=False)
    assert not asks_a_person("always", 4, dry_run=True)
    with pytest.raises(ValueError):
        asks_a_person("sometimes", 1, dry_run=False)
    desired = [DesiredLine("01-100", "L", D("1200.00")), DesiredLine("05-500", "L", D("75.50"))]
    body = review_body("Procore project Riverside Clinic", EXISTING, plan_merge(desired, EXISTING, "override"),
                       plan_merge(desired, EXISTING, "additive"), "/spectrum-budgets/runs/r/jobs/01_19.50/files/snapshot.pdf")
    assert "already has **4 budget lines, $1530.00**" in body
    assert "1 created, 1 updated, 3 deleted" in body and "| update | 01-100 | L | 1000.00 | 1200.00 |" in body
    assert "| delete | 02-200 | M | 500.00 |  |" in body and "creates 1 lines ($75.50)" in body
    assert "[snapshot.pdf](/spectrum-budgets/runs/r/jobs/01_19.50/files/snapshot.pdf)" in body


@pytest.mark.parametrize("params", [{"review": "never"}, {"review": "auto", "dry_run": True}, {"review": "always", "dry_run": True}],
                         ids=["never", "auto, dry run", "always, dry run"])
def test_the_review_task_reads_nothing_when_nobody_is_asked(monkeypatch: pytest.MonkeyPatch, params: dict) -> None:
    """`plan_review` with nobody to ask neither reads the job's load input nor opens Procore (the load task
    does both itself): on a manual import with review `never` it is a task of no work."""
    from include.budget_import import dag_tasks, handoff

    def not_now(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("plan_review read the load input or opened Procore although nobody is asked")

    monkeypatch.setattr(dag_tasks, "procore_hook", not_now)
    monkeypatch.setattr(handoff, "read_load_input", not_now)
    prepared = {"ready": {"company_code": "01", "job_number": "19.50", "procore_project_id": 7, "procore_project_name": "Riverside Clinic"},
                "load_input": {"unreadable": True}}
    assert dag_tasks.plan_review([[prepared]], params, "manual__1") == {"ask": False, "review_body": "", "project": "Riverside Clinic"}
