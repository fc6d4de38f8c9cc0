"""`gx_configurations.built_once()` (issue 19) changes how often GX builds an expectation's configuration,
never what GX concludes: each saved suite run over awkward frames gives the same whole result (every
expectation's success, counts, failing ids and values, kwargs) with it as without, and the property is
GX's own again after the block, also after an error inside it."""
from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from great_expectations.expectations.expectation import Expectation

from include.budget_import import gx_configurations, quality
from tests.test_stage_baseline import KNOWN, awkward_jobs
from tests.unit.test_line_checks import LINE_ITEM_FRAMES, RECONCILIATION_FRAMES

RUN_SPECIFIC = {"ge_load_time", "run_id", "validation_time", "batch_id", "active_batch_definition", "checkpoint_id", "validation_id"}


def _comparable(value: Any) -> Any:
    """GX's result as JSON without what differs between any two runs (when, which run, which batch)."""
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if k not in RUN_SPECIFIC}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def _row_frame() -> pd.DataFrame:
    together = pd.concat(awkward_jobs(), ignore_index=True)
    together["row_id"] = range(len(together))
    return quality.validation_frame(together)


def _job_facts() -> pd.DataFrame:
    return pd.DataFrame({"row_id": range(4), "estimates_posted": [True, False, True, False], "budget_locked": [True, True, False, False]})


def _by_line(frame: pd.DataFrame) -> pd.DataFrame:
    lines = frame.reset_index(drop=True).copy()
    lines["line_id"] = range(len(lines))
    return lines


CASES = [
    ("row suite", quality.ROW_SUITE, _row_frame, "row_id", {"known_cost_types": KNOWN}),
    ("job facts", quality.JOB_FACTS_SUITE, _job_facts, "row_id", None),
    *((f"line items: {name}", quality.LINE_ITEMS_SUITE, lambda f=frame: _by_line(f), "line_id", None)
      for name, frame in LINE_ITEM_FRAMES.items() if not frame.empty),
    *((f"reconciliation: {name}", quality.RECONCILIATION_SUITE, lambda f=frame: _by_line(f), "line_id", None)
      for name, frame in RECONCILIATION_FRAMES.items() if not frame.empty),
]


def _plain_run(frame: pd.DataFrame, name: str, id_column: str, parameters: dict[str, Any] | None) -> dict[str, Any]:
    """GX's own run of the saved definition, as `quality.ge_outcomes` makes it, without the memo."""
    saved = quality.saved_validation(name)
    lean = frame[saved.columns].set_axis(pd.Index(frame[id_column].to_numpy(), dtype="int64"), axis=0)
    result = saved.definition.run(batch_parameters={"dataframe": lean}, expectation_parameters=dict(parameters or {}),
                                  result_format=quality.RESULT_FORMAT)
    return _comparable(result.to_json_dict())


@pytest.mark.parametrize(("case", "name", "frame", "id_column", "parameters"), CASES, ids=[c[0] for c in CASES])
def test_a_suite_gives_the_same_result_with_configurations_built_once(case: str, name: str, frame: Any, id_column: str,
                                                                      parameters: dict[str, Any] | None) -> None:
    plain = _plain_run(frame(), name, id_column, parameters)
    _, outcomes, memoised = quality.ge_outcomes(frame(), name, id_column, parameters)
    assert _comparable(memoised.to_json_dict()) == plain
    assert len(plain["results"]) == len(outcomes) > 0
    if case in ("row suite", "job facts"):  # awkward input: some expectations fail, so the comparison covers failing rows
        assert not plain["success"] and any(o.ids for o in outcomes)


def test_the_property_is_gx_own_again_after_the_block_even_after_an_error() -> None:
    own = Expectation.__dict__["configuration"]
    with pytest.raises(RuntimeError), gx_configurations.built_once():
        assert Expectation.__dict__["configuration"] is not own
        with gx_configurations.built_once():  # nested: the outer memo stays
            inner = Expectation.__dict__["configuration"]
        assert Expectation.__dict__["configuration"] is inner
        raise RuntimeError("inside")
    assert Expectation.__dict__["configuration"] is own


def test_each_expectation_object_builds_its_configuration_once_inside() -> None:
    expectation = quality.saved_validation(quality.ROW_SUITE).definition.suite.expectations[0]
    assert expectation.configuration is not expectation.configuration  # GX's own: a new object per read
    with gx_configurations.built_once():
        first = expectation.configuration
        assert expectation.configuration is first
    assert expectation.configuration is not first
    assert first.to_json_dict() == expectation.configuration.to_json_dict()
