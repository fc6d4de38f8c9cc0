from decimal import Decimal

import pytest

from include.budget_import.plan import DesiredLine, ExistingLine, plan_merge

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


def test_plan_refuses_unknown_mode_and_duplicate_desired_lines():
    with pytest.raises(ValueError, match="merge mode"):
        plan_merge(desired(), [], "merge")
    with pytest.raises(ValueError, match="duplicate"):
        plan_merge(desired() + [DesiredLine("01-100", "L", D("1.00"))], [], "override")
