from decimal import Decimal

import pytest

from include.budget_import.plan import EQUAL_NOTE, REJECTED_KEEP, DesiredLine, ExistingLine, plan_merge

D = Decimal


def desired():
    return [
        DesiredLine("01-100", "L", D("1850.00")),
        DesiredLine("01-100", "M", D("400.00")),
        DesiredLine("03-310", "S", D("12000.50")),
    ]


def existing():
    return [
        ExistingLine(11, "01-100", "L", D("1850.00")),  # equal
        ExistingLine(12, "01-100", "M", D("350.00")),  # different amount
        ExistingLine(13, "99-999", "O", D("75.25")),  # Procore-only line
    ]


def keys(lines):
    return [(line.cost_code, line.cost_type) for line in lines]


def test_override_makes_procore_equal_to_spectrum():
    plan = plan_merge(desired(), existing(), "override")
    assert keys(plan.creates) == [("03-310", "S")]
    assert [(u.line.id, u.new_amount) for u in plan.updates] == [(12, D("400.00"))]
    assert [d.id for d in plan.deletes] == [13]
    assert [k.line.id for k in plan.keeps] == [11]
    assert plan.counts() == {"create": 1, "update": 1, "delete": 1, "keep": 1}


def test_additive_keeps_every_existing_line_and_adds_only_missing_combinations():
    plan = plan_merge(desired(), existing(), "additive")
    assert keys(plan.creates) == [("03-310", "S")]
    assert plan.updates == [] and plan.deletes == []
    assert sorted(k.line.id for k in plan.keeps) == [11, 12, 13]
    kept_12 = next(k for k in plan.keeps if k.line.id == 12)
    assert "400.00" in kept_12.note  # the report says what Spectrum had


def test_nothing_changed_plans_no_write():
    same = [ExistingLine(i, d.cost_code, d.cost_type, d.amount) for i, d in enumerate(desired(), start=1)]
    for mode in ("override", "additive"):
        plan = plan_merge(desired(), same, mode)
        assert plan.write_count == 0
        assert len(plan.keeps) == 3


def test_plan_report_has_amounts_before_and_after():
    report = plan_merge(desired(), existing(), "override").as_dict()
    assert report["update"][0]["amount_before"] == "350.00"
    assert report["update"][0]["amount_after"] == "400.00"
    assert report["delete"][0]["amount_after"] is None
    assert report["create"][0]["amount_after"] == "12000.50"


def test_plan_report_lists_changes_and_telling_keeps_and_only_counts_equal_lines():
    override = plan_merge(desired(), existing(), "override").as_dict()
    assert override["counts"] == {"create": 1, "update": 1, "delete": 1, "keep": 1}
    assert (override["keep"], override["keep_equal"]) == ([], 1), "the line already equal to Spectrum is counted, not listed"
    additive = plan_merge(desired(), existing(), "additive").as_dict()
    assert additive["counts"]["keep"] == 3 and additive["keep_equal"] == 1
    assert [(k["id"], k["amount_before"], k["amount_after"]) for k in additive["keep"]] == [(12, "350.00", "350.00"), (13, "75.25", "75.25")]
    assert "Spectrum has 400.00" in additive["keep"][0]["note"] and additive["keep"][1]["note"] == "additive: not in Spectrum, kept"
    rejected = plan_merge(desired(), existing(), "override", {("99-999", "O"): "bad_amount"}).as_dict()
    assert [k["id"] for k in rejected["keep"]] == [13] and rejected["keep"][0]["note"].startswith(REJECTED_KEEP)
    assert all(k["note"] != EQUAL_NOTE for k in additive["keep"] + rejected["keep"])
    for report in (override, additive, rejected):
        assert report["counts"]["keep"] == len(report["keep"]) + report["keep_equal"]


def test_plan_report_totals_each_cost_type_before_and_after_over_every_line():
    report = plan_merge(desired(), existing(), "override").as_dict()
    assert report["by_cost_type"] == {"L": {"before": "1850.00", "after": "1850.00"}, "M": {"before": "350.00", "after": "400.00"},
                                      "O": {"before": "75.25", "after": None}, "S": {"before": None, "after": "12000.50"}}


def test_unchanged_job_plan_report_is_counts_only():
    lines = [DesiredLine(f"{n:05d}", "L", D(n) / 100) for n in range(5000)]
    same = [ExistingLine(n, d.cost_code, d.cost_type, d.amount) for n, d in enumerate(lines)]
    report = plan_merge(lines, same, "override").as_dict()
    assert report["counts"] == {"create": 0, "update": 0, "delete": 0, "keep": 5000} and report["keep_equal"] == 5000
    assert report["create"] == report["update"] == report["delete"] == report["keep"] == []
    assert report["by_cost_type"] == {"L": {"before": "124975.00", "after": "124975.00"}}


def test_plan_refuses_unknown_mode_and_duplicate_desired_lines():
    with pytest.raises(ValueError, match="merge mode"):
        plan_merge(desired(), [], "merge")
    with pytest.raises(ValueError, match="duplicate"):
        plan_merge(desired() + [DesiredLine("01-100", "L", D("1.00"))], [], "override")


def test_the_collector_is_paused_while_a_plan_is_built_and_looks_once_at_what_was_made():
    """`paused_gc`: no cyclic-GC pass inside; at its end one pass over the youngest generation (where
    everything made inside sits), never an older one's: before, the automatic pass at the next allocation
    set off the older generations' passes over the whole heap every few plans, half the 1M-line plan
    stage's time (docs/performance.md). After it the collector is as it was, also when the plan failed."""
    import gc

    from include.budget_import.plan import paused_gc

    passes: list[int] = []

    def record(phase: str, info: dict) -> None:
        if phase == "start":
            passes.append(info["generation"])

    thresholds = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's defaults, whatever the process set
    gc.callbacks.append(record)
    made = []
    try:
        for _ in range(30):  # 30 plans, each making thousands of tracked objects
            with paused_gc():
                assert not gc.isenabled()
                before = len(passes)
                made.append([[n] for n in range(2_000)])
                assert len(passes) == before, "no pass while paused"
            assert gc.isenabled()
    finally:
        gc.callbacks.remove(record)
        gc.set_threshold(*thresholds)
    # a pass per plan, of the youngest generation only (another thread's allocations may add one of those)
    assert len(passes) >= 30 and set(passes) == {0}, passes
    gc.disable()
    try:
        with paused_gc():
            made.append([[n] for n in range(10)])
        assert not gc.isenabled()  # left as it was
    finally:
        gc.enable()
    with pytest.raises(ValueError), paused_gc():
        raise ValueError("a failed plan")
    assert gc.isenabled()
