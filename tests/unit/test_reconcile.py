from decimal import Decimal

from include.budget_import.pipeline import reconcile
from include.budget_import.plan import DesiredLine, ExistingLine, plan_merge

D = Decimal
DESIRED = [DesiredLine("01-100", "L", D("100.00")), DesiredLine("02-200", "M", D("250.10"))]


def test_override_reconciliation_passes_only_when_procore_equals_spectrum_to_the_cent():
    plan = plan_merge(DESIRED, [], "override")
    good = [ExistingLine(1, "01-100", "L", D("100.00")), ExistingLine(2, "02-200", "M", D("250.10"))]
    assert reconcile(DESIRED, good, plan, dry_run=False)["success"] is True
    off_by_a_cent = [ExistingLine(1, "01-100", "L", D("100.00")), ExistingLine(2, "02-200", "M", D("250.09"))]
    report = reconcile(DESIRED, off_by_a_cent, plan, dry_run=False)
    assert report["success"] is False
    assert report["expectations"][0]["unexpected_count"] == 1
    missing = reconcile(DESIRED, good[:1], plan, dry_run=False)
    assert missing["success"] is False


def test_additive_reconciliation_checks_only_the_lines_it_created():
    existing = [ExistingLine(1, "01-100", "L", D("90.00"))]  # kept with Procore's own amount
    plan = plan_merge(DESIRED, existing, "additive")
    final = existing + [ExistingLine(2, "02-200", "M", D("250.10"))]
    report = reconcile(DESIRED, final, plan, dry_run=False)
    assert report["success"] is True and report["checked_lines"] == 1
    wrong = existing + [ExistingLine(2, "02-200", "M", D("25.01"))]
    assert reconcile(DESIRED, wrong, plan, dry_run=False)["success"] is False
