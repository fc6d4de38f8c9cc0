"""DAG policy, in the style of Astronomer's Airflow 3 project template (tests/dags/test_dag_example.py):
every DAG in dags/ parses, and has tags, doc_md and retries; a DAG Airflow schedules runs one at a time
with no catch-up; and every task that talks to Procore or Spectrum retries, runs in the Procore pool when
it calls Procore, and reports its failure when it writes.

The rules are properties of what a task does, not lists of task ids, so they hold as tasks are renamed,
regrouped or added. What a task does is read from its code, as follows (`_reach`):

- Start at the task's callable (a TaskFlow task) or, for a classic operator defined in this project, its
  class's methods. Follow every name the code refers to (globals, attributes of modules, imports inside
  functions, closures, nested functions and lambdas) into the functions and classes of `include.*` and of
  the DAG file; a class counts with all its methods. Airflow and other libraries are not followed.
- A task CALLS PROCORE when that code reaches `connections.procore_hook` or `ProcoreHook` (the only
  ways the project gets at Procore) and names one of the hook's methods that build the HTTP client
  (those whose code names ProcoreClient or ProcoreBudgetApi: get_client, get_api today). A task that
  builds the hook only to read the connection (its company mapping) does not call Procore.
- A task READS SPECTRUM when it reaches `connections.spectrum_connection` or the odbc provider's `OdbcHook`.
- A task WRITES TO PROCORE when it calls Procore and its code names one of `ProcoreBudgetApi`'s writing
  methods: those whose code sends POST, PATCH, PUT or DELETE (found from api.py, so a new one counts).
- These entry points, ProcoreBudgetApi and ProcoreClient are not followed into (OPAQUE): what a task
  asks of Procore is read from the task's own code, not from the client's.

This over-approximates (a task that only plans with BudgetLoader counts as a writer): a rule then asks a
little more of a task than it needs, never less. `test_the_rules_find_procore_and_spectrum_tasks`
keeps the reading honest: if the entry points above were renamed it fails instead of finding nothing.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import types
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest

from tests.conftest import ROOT

PROCORE_POOL = os.environ.get("SPECTRUM_BUDGET_PROCORE_POOL", "procore_api")
MIN_RETRIES = 2
PROCORE_ENTRY_POINTS = frozenset({
    "include.budget_import.connections.procore_hook",
    "include.budget_import.procore.hook.ProcoreHook",
})
SPECTRUM_ENTRY_POINTS = frozenset({
    "include.budget_import.connections.spectrum_connection",
    "airflow.providers.odbc.hooks.odbc.OdbcHook",
})
# Not followed: the Procore client itself (what a task asks of it is read from the task's own code)
OPAQUE = PROCORE_ENTRY_POINTS | SPECTRUM_ENTRY_POINTS | {
    "include.budget_import.procore.api.ProcoreBudgetApi",
    "include.budget_import.procore.client.ProcoreClient",
}
WRITE_VERBS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
PROJECT_PACKAGE = "include"


@cache
def dag_bag() -> Any:
    """The DAGs as Airflow's DAG processor loads them (in-process, as tests/test_dag_integrity.py's
    in-process test does; its subprocess probe separately proves parse time does no I/O)."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def _dag_ids() -> list[str]:
    try:
        return sorted(dag_bag().dag_ids)
    except Exception:  # reported by test_dags_import_without_errors, not as a collection error
        return []


DAG_IDS = _dag_ids()


# (rule, dag_id) -> why that DAG may break that rule for now: its test is an expected failure (strict, so a
# DAG that keeps the rule again fails the run until its entry is removed). Found when the policy arrived
# (issue 16); the DAGs' owner fixes them, this file's reader sees them in `-ra`'s summary.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}  # none today (the two found with the policy were fixed)


def _dag(dag_id: str) -> Any:
    return dag_bag().dags[dag_id]


def dags_for(rule: str) -> list[Any]:
    """Every DAG id, as expected failures where KNOWN_VIOLATIONS says so."""
    return [
        pytest.param(dag_id, marks=pytest.mark.xfail(strict=True, reason=f"known violation: {KNOWN_VIOLATIONS[rule, dag_id]}"))
        if (rule, dag_id) in KNOWN_VIOLATIONS else dag_id
        for dag_id in DAG_IDS
    ]


# --- what a task does, read from its code ---------------------------------------------------------
def _name(obj: object) -> str:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"


def _ours(obj: object, dag_module: str) -> bool:
    module = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", None)
    if not isinstance(module, str) or not module:
        return False
    return module == dag_module or module == PROJECT_PACKAGE or module.startswith(PROJECT_PACKAGE + ".")


def _submodule(module: types.ModuleType, attr: str) -> object | None:
    """`from include.budget_import import dag_tasks` inside a task: dag_tasks is imported when it runs."""
    if not hasattr(module, "__path__") or not attr.isidentifier():
        return None
    name = f"{module.__name__}.{attr}"
    try:
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            return None
    except ImportError:
        return None
    return importlib.import_module(name)


def _functions_of(cls: type) -> Iterator[types.FunctionType]:
    for value in vars(cls).values():
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, property):
            yield from (f for f in (value.fget, value.fset, value.fdel) if isinstance(f, types.FunctionType))
        elif isinstance(value, types.FunctionType):
            yield value


class Reach:
    """Everything a task's code reaches: `objects` by dotted name, and every name its code uses."""

    def __init__(self) -> None:
        self.objects: set[str] = set()
        self.names: set[str] = set()

    def calls_procore(self) -> bool:
        return bool(self.objects & PROCORE_ENTRY_POINTS) and bool(self.names & procore_client_methods())

    def reads_spectrum(self) -> bool:
        return bool(self.objects & SPECTRUM_ENTRY_POINTS)

    def writes_procore(self) -> bool:
        return self.calls_procore() and bool(self.names & procore_write_methods())


def _reach(starts: list[types.FunctionType], dag_module: str) -> Reach:
    reach = Reach()
    seen_code: set[types.CodeType] = set()
    seen: set[int] = set()
    work: list[tuple[types.CodeType, dict[str, Any]]] = []

    def visit(obj: object) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        name = _name(obj)
        reach.objects.add(name)
        if name in OPAQUE or not _ours(obj, dag_module):
            return
        if isinstance(obj, types.FunctionType):
            work.append((obj.__code__, obj.__globals__))
            for cell in obj.__closure__ or ():
                try:
                    visit(cell.cell_contents)
                except ValueError:  # an empty cell
                    pass
        elif inspect.isclass(obj):
            for function in _functions_of(obj):
                visit(function)

    for start in starts:
        visit(start)
    while work:
        code, scope = work.pop()
        if code in seen_code:
            continue
        seen_code.add(code)
        names = set(code.co_names)
        reach.names |= names
        work += [(const, scope) for const in code.co_consts if isinstance(const, types.CodeType)]
        modules: list[types.ModuleType] = []
        for name in names:
            found = [scope[name]] if name in scope else []
            if "." in name or name == PROJECT_PACKAGE:  # the module of an import inside a function
                module = sys.modules.get(name)
                if module is None and (name == PROJECT_PACKAGE or name.startswith(PROJECT_PACKAGE + ".")):
                    module = importlib.import_module(name)
                if module is None:  # a library not imported yet: its names, for the entry points
                    reach.objects |= {f"{name}.{attr}" for attr in names}
                else:
                    found.append(module)
            for obj in found:
                if isinstance(obj, types.ModuleType):
                    modules.append(obj)
                else:
                    visit(obj)
        done: set[int] = set()
        while modules:  # names the code uses as attributes of a module it refers to: `dag_tasks.load_job`
            module = modules.pop()
            if id(module) in done:
                continue
            done.add(id(module))
            if not _ours(module, dag_module):  # a library (pandas, numpy, Airflow): its names, for the entry points
                reach.objects |= {f"{module.__name__}.{attr}" for attr in names}
                continue
            for attr in names:
                value = getattr(module, attr, None)
                if value is None:
                    value = _submodule(module, attr)  # `from include.budget_import import dag_tasks`
                if value is None:
                    continue
                visit(value)
                if isinstance(value, types.ModuleType):
                    modules.append(value)
    return reach


@cache
def procore_client_methods() -> frozenset[str]:
    """ProcoreHook's methods that build a Procore HTTP client (get_client, get_api): a task that only reads
    the connection (its company mapping) through the hook does not call Procore."""
    from include.budget_import.procore.hook import ProcoreHook

    return frozenset(f.__name__ for f in _functions_of(ProcoreHook) if {"ProcoreClient", "ProcoreBudgetApi"} & set(f.__code__.co_names))


@cache
def procore_write_methods() -> frozenset[str]:
    """ProcoreBudgetApi's methods that send POST / PATCH / PUT / DELETE."""
    from include.budget_import.procore.api import ProcoreBudgetApi

    def verbs(code: types.CodeType) -> set[str]:
        found = {c for c in code.co_consts if isinstance(c, str) and c in WRITE_VERBS}
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                found |= verbs(const)
        return found

    return frozenset(f.__name__ for f in _functions_of(ProcoreBudgetApi) if verbs(f.__code__))


def _callable(task: Any) -> Any:
    python_callable = getattr(task, "python_callable", None)
    if python_callable is None:  # a mapped TaskFlow task keeps it in partial_kwargs
        python_callable = (getattr(task, "partial_kwargs", None) or {}).get("python_callable")
    return python_callable


def task_reach(task: Any) -> Reach:
    if python_callable := _callable(task):
        return _reach([python_callable], python_callable.__module__)
    operator = getattr(task, "operator_class", None)  # a mapped classic operator
    operator = operator if inspect.isclass(operator) else type(task)
    return _reach(list(_functions_of(operator)) if _ours(operator, "") else [], "")


def _is_hitl(task: Any) -> bool:
    from airflow.providers.standard.operators.hitl import HITLOperator

    operator = getattr(task, "operator_class", None)
    return isinstance(task, HITLOperator) or (inspect.isclass(operator) and issubclass(operator, HITLOperator))


@cache
def _tasks(dag_id: str) -> list[tuple[Any, Reach]]:
    return [(task, task_reach(task)) for task in _dag(dag_id).tasks]


def _callbacks(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


# --- the policy -------------------------------------------------------------------------------------
def test_dags_import_without_errors():
    bag = dag_bag()
    assert bag.import_errors == {}, "\n".join(f"{path}: {error}" for path, error in bag.import_errors.items())
    assert bag.dag_ids, "dags/ holds no DAG"
    assert sorted(bag.dag_ids) == DAG_IDS


@pytest.mark.parametrize("dag_id", dags_for("tags"))
def test_dag_has_tags(dag_id):
    assert _dag(dag_id).tags, f"{dag_id} has no tags"


@pytest.mark.parametrize("dag_id", dags_for("doc_md"))
def test_dag_has_doc_md(dag_id):
    doc = _dag(dag_id).doc_md
    assert doc and doc.strip(), f"{dag_id} has no doc_md (what it does, its params, connections and pool)"


@pytest.mark.parametrize("dag_id", dags_for("default_retries"))
def test_dag_retries_at_least_twice_by_default(dag_id):
    retries = (_dag(dag_id).default_args or {}).get("retries")
    assert retries is not None and retries >= MIN_RETRIES, f"{dag_id}: default_args retries is {retries!r}, want >= {MIN_RETRIES}"


def _scheduled(dag_id: str) -> bool:
    return bool(DAG_IDS) and bool(_dag(dag_id).timetable.can_be_scheduled)


@pytest.mark.parametrize("dag_id", [d for d in dags_for("schedule") if _scheduled(d if isinstance(d, str) else d.values[0])])
def test_scheduled_dag_runs_one_at_a_time_without_catchup(dag_id):
    dag = _dag(dag_id)
    assert dag.catchup is False, f"{dag_id} would catch up every missed interval (a burst of imports into Procore)"
    assert dag.max_active_runs == 1, f"{dag_id} may run {dag.max_active_runs} times at once"


@pytest.mark.parametrize("dag_id", dags_for("retries"))
def test_tasks_that_talk_to_procore_or_spectrum_retry(dag_id):
    """Procore and Spectrum fail transiently (rate limits, restarts, network): such a task retries.
    Exempt: Human-in-the-loop operators (HITLOperator and its branch), which may have retries=0. They
    wait for a person's answer: a retry would post a new Required Action and ask the person again, and
    their failure (a timeout, nobody answered) is an answer in itself that a retry must not replace."""
    offenders = [
        f"{task.task_id} (retries={task.retries})"
        for task, reach in _tasks(dag_id)
        if (reach.calls_procore() or reach.reads_spectrum()) and not _is_hitl(task) and (task.retries or 0) < MIN_RETRIES
    ]
    assert offenders == [], f"{dag_id}: tasks that call Procore or read Spectrum need retries >= {MIN_RETRIES}: {offenders}"


@pytest.mark.parametrize("dag_id", dags_for("pool"))
def test_tasks_that_call_procore_run_in_the_procore_pool(dag_id):
    """The pool (env SPECTRUM_BUDGET_PROCORE_POOL, default procore_api) bounds how many tasks call
    Procore at once, across every DAG, under Procore's rate limits: reads count as much as writes."""
    offenders = [f"{task.task_id} (pool={task.pool})" for task, reach in _tasks(dag_id) if reach.calls_procore() and task.pool != PROCORE_POOL]
    assert offenders == [], f"{dag_id}: tasks that call Procore must run in the pool {PROCORE_POOL!r}: {offenders}"


@pytest.mark.parametrize("dag_id", dags_for("failure_callback"))
def test_tasks_that_write_to_procore_report_their_failure(dag_id):
    """A writer that fails records the job's failed status (the Budgets page, the next run's report)."""
    offenders = [task.task_id for task, reach in _tasks(dag_id) if reach.writes_procore() and not _callbacks(task.on_failure_callback)]
    assert offenders == [], f"{dag_id}: tasks that write to Procore need an on_failure_callback: {offenders}"


def test_the_rules_find_procore_and_spectrum_tasks():
    """The reading of code above still finds what it looks for: Procore writers, Procore callers and
    Spectrum readers exist among the DAGs (else an entry point was renamed and every rule passes empty)."""
    assert procore_write_methods(), "no ProcoreBudgetApi method sends POST/PATCH/PUT/DELETE: the write rule reads nothing"
    for entry in PROCORE_ENTRY_POINTS | SPECTRUM_ENTRY_POINTS:
        module, _, attr = entry.rpartition(".")
        assert hasattr(importlib.import_module(module), attr), f"{entry} is gone: update the entry points of this test"
    reaches = [reach for dag_id in DAG_IDS for _, reach in _tasks(dag_id)]
    assert any(r.writes_procore() for r in reaches), "no task writes to Procore"
    assert any(r.calls_procore() for r in reaches), "no task calls Procore"
    assert any(r.reads_spectrum() for r in reaches), "no task reads Spectrum"
    stale = sorted(f"{rule}/{dag_id}" for rule, dag_id in KNOWN_VIOLATIONS if dag_id not in DAG_IDS)
    assert stale == [], f"KNOWN_VIOLATIONS names DAGs that no longer exist: {stale}"
