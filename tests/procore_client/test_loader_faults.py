"""The core guarantee: whatever fails on the way, BudgetLoader.apply leaves Procore's budget exactly
as intended (to the cent) with no duplicated line, in both merge modes."""
from __future__ import annotations

import pytest

from include.budget_import.load import LoadIncompleteError

from .conftest import EXISTING, PROJECT, Emu, intended_budget, run_import

SYNC = "/budget_line_items/sync"
MODES = ["override", "additive"]


def test_clean_import_writes_only_what_changed(emu: Emu) -> None:
    for mode in MODES:
        emu.clean()
        client = emu.client()
        outcome = run_import(emu.loader(client), mode)
        assert emu.budget() == intended_budget(mode)
        assert outcome.ambiguous_writes == 0 and outcome.rounds == 1
        # a second run finds nothing to do and writes nothing
        emu.admin("DELETE", "/requests")
        again = run_import(emu.loader(emu.client()), mode)
        assert again.rounds == 0 and again.plan.write_count == 0
        assert [r for r in emu.requests() if r["method"] != "GET" and "/oauth/" not in r["path"]] == []


FAULTS = {
    "500 on create": {"kind": "error", "status": 500},
    "502 on create": {"kind": "error", "status": 502},
    "503 on create": {"kind": "error", "status": 503},
    "dropped create": {"kind": "drop"},
    "lost create response": {"kind": "lost_response"},
    "lost create response twice": {"kind": "lost_response", "times": 2},
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_on_the_create_batch(emu: Emu, fault: str, mode: str) -> None:
    emu.faults(retry_after=0, rules=[{"method": "POST", "path_contains": SYNC, "times": 1, **FAULTS[fault]}])
    outcome = run_import(emu.loader(emu.client()), mode)
    assert emu.budget() == intended_budget(mode)  # emu.budget() also fails on a duplicated line
    assert 1 <= emu.injected()[FAULTS[fault]["kind"]] <= FAULTS[fault].get("times", 1)  # additive has no update batch
    assert outcome.ambiguous_writes >= 1
    assert {(line.cost_code, line.cost_type): f"{line.amount:.2f}" for line in outcome.final_lines} == intended_budget(mode)


@pytest.mark.parametrize("kind", ["error", "drop", "lost_response"])
def test_faults_on_every_kind_of_write(emu: Emu, kind: str) -> None:
    """The first call of each write endpoint fails: cost codes, types, wbs codes, creates, updates, deletes."""
    paths = ["/line_item_types/sync", "/cost_codes/sync", "/wbs_codes/bulk_create", SYNC, SYNC, "/budget_line_items/"]
    rules = [{"kind": kind, "status": 503, "path_contains": p, "method": m, "times": 1}
             for p, m in zip(paths, ["PATCH", "PATCH", "PATCH", "POST", "POST", "DELETE"], strict=True)]
    rules[4]["skip"] = 1  # the update batch follows the create batch
    emu.faults(retry_after=0, rules=rules)
    run_import(emu.loader(emu.client()), "override")
    assert emu.budget() == intended_budget("override")
    assert emu.injected()[kind] >= 5


def test_delete_whose_response_was_lost_is_done(emu: Emu) -> None:
    """The DELETE is committed, its answer lost; the retry answers 404, which means done."""
    emu.faults(rules=[{"kind": "lost_response", "method": "DELETE", "path_contains": "/budget_line_items/", "times": 1}])
    outcome = run_import(emu.loader(emu.client()), "override")
    deletes = emu.requests(method="DELETE")
    assert [(d["status"], d["fault"]) for d in deletes] == [(204, "lost_response"), (404, None)]
    assert emu.budget() == intended_budget("override")
    assert ("09-900", "L") not in emu.budget() and outcome.rounds == 1


def test_update_whose_response_was_lost_is_not_doubled(emu: Emu) -> None:
    emu.faults(rules=[{"kind": "lost_response", "method": "POST", "path_contains": SYNC, "skip": 1, "times": 1}])
    run_import(emu.loader(emu.client()), "override")
    assert emu.budget()[("02-200", "M")] == "2600.75"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_seeded_random_fault_mix(emu: Emu, mode: str, seed: int) -> None:
    emu.faults(seed=seed, error_rate=0.12, rate_limit_rate=0.06, drop_rate=0.06, lost_response_rate=0.12,
               slow_rate=0.05, slow_seconds=0.05, retry_after=0)
    client = emu.client()
    outcome = run_import(emu.loader(client), mode)
    assert emu.budget() == intended_budget(mode)
    injected = emu.injected()
    assert sum(injected.values()) > 0
    assert outcome.rounds <= 6
    kept = {(c, t): a for c, t, a in EXISTING}
    if mode == "additive":
        assert all(emu.budget()[key] == amount for key, amount in kept.items())


def test_a_budget_that_never_converges_is_reported(emu: Emu) -> None:
    """If every create is lost before it is applied, the loader stops after its rounds and says so."""
    emu.faults(retry_after=0, rules=[{"kind": "error", "status": 503, "method": "POST", "path_contains": SYNC, "times": 100}])
    with pytest.raises(LoadIncompleteError) as info:
        run_import(emu.loader(emu.client()), "additive")
    assert f"Procore project {PROJECT}" in str(info.value)
    assert len(emu.requests(method="POST", path_contains=SYNC)) == 6  # one create per round, no storm
