"""Performance benchmark: ``make benchmark ARGS="--jobs 10 --lines 100"`` (prints figures; it is not a test).

What it does, in order (docs/performance.md has results and how to read them):

1. **Sample**: builds the scale profile of the Spectrum sample (``--jobs`` x ``--lines``, SQLite through the
   real SQLite ODBC driver) and its Procore emulator fixture, once per size under ``var/benchmark/samples``.
2. **End to end, on the nightly's path** (default): starts the Procore emulator on 127.0.0.1 and runs every
   job through the pipeline's own functions, in-process, as the nightly DAG's tasks do: each batch of
   ``--jobs-per-batch`` jobs of one company prepared with its own ``ProcoreBudgetApi`` over ``requests``
   (``prepare.prepare_jobs``: prerequisites and extraction job by job, then one validation and one reshape
   for the batch), then each job loaded with a fresh client (``pipeline.load_prepared``). Prints per stage
   rows/s, wall time and peak memory, then Procore API calls made against the minimum possible for that
   work (computed from the data, see ``minimum_calls``). Then the same run again with nothing changed: it
   must write nothing.
   ``--procore-limits`` runs the emulator at Procore's documented limits (3,600 requests/hour, 25 per 10 s
   spike window) and reports how long the limits made the run wait and how many 429s it saw.
3. **``--stages-only``**: no Procore. Extracts every job (and times a bare pyodbc fetch of the same rows next
   to it), then times validate + reshape + plan over all the lines on the import path both DAGs run
   (batches; the manual DAG's is a batch of one), and each batch's same stages by the hand-written baseline
   (``scripts/stage_baseline.py``, same inputs; its results must equal the pipeline's) for issue 19's ratios.
   A run that is not ``--stages-only`` does the same after its end-to-end part, on a sample of its own
   (``--stages-jobs`` x ``--stages-lines``, default 1,000 x 1,000, the size of the targets; 0 skips), so one
   ``make benchmark`` prints every target.
4. **DAG files**: import time of each file in ``dags/`` (a fresh subprocess per file, Airflow's SDK
   already imported, best of ``--parse-repeat``).
5. **Per-task overhead of the nightly DAG** (``--dag-jobs 50,200``; ``--dag-jobs 0`` skips it):
   ``airflow dags test spectrum_budget_nightly`` on samples of that many one-line jobs; the slope between the
   sizes, minus the tasks' own run time (from the metadata DB), is Airflow's overhead per job, extrapolated
   to 1,000 jobs.

Memory: peak resident set size of this process during each stage (Linux: the VmHWM high-water mark, reset
through /proc/self/clear_refs before each stage; elsewhere ru_maxrss, which cannot be reset). The figure is
the whole process (Python, pandas, GE already loaded), so it is what a worker must have.

Options: ``--jobs --lines --seed --dirty-rate --mode --jobs-per-batch --stages-only --stages-jobs --stages-lines --procore-limits --skip-e2e --dag-jobs
--parse-repeat --no-dags --json PATH --workdir``. The machine is shared while helpers run: figures are noisy,
and the load average is printed next to them.
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PY = sys.executable
WORKDIR = ROOT / "var" / "benchmark"
PROCORE_LIMITS = {"hourly_limit": 3600, "hourly_window_seconds": 3600, "spike_limit": 25, "spike_window_seconds": 10}
TARGETS = {
    "api_ratio": 1.1,  # calls made / minimum calls
    "stages_1m_seconds": 20.0,  # validate + reshape + plan of 1,000,000 lines
    "stages_1m_peak_bytes": 2 * 1024**3,
    "extract_ratio": 1.5,  # extraction / bare pyodbc fetch of the same rows
    "dag_import_seconds": 0.3,
    # issue 19: where users wait
    "unchanged_calls_per_job": 2,
    "unchanged_calls_1000_jobs": 3600,
    "stage_vs_baseline": 1.1,  # each of validate, reshape, plan / the hand-written baseline (scripts/stage_baseline.py)
    "stages_vs_bare_fetch": 1.2,  # validate + reshape + plan / the bare pyodbc fetch of the same rows
    "unchanged_50k_load_seconds": 5.0,
    "make_test_seconds": 15 * 60,
}
ONE_MILLION = 1_000_000


def say(text: str = "") -> None:
    print(text, flush=True)


# --------------------------------------------------------------------------- machine and memory
def machine() -> dict[str, Any]:
    mem_total = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total = int(line.split()[1]) * 1024
    except OSError:
        pass
    cpu = ""
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")), "")
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("pandas", "numpy", "great_expectations", "pyodbc", "apache-airflow"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "-"
    return {
        "cpus": os.cpu_count(), "cpu": cpu, "ram_bytes": mem_total, "python": platform.python_version(),
        "platform": platform.platform(), "versions": versions, "loadavg_start": os.getloadavg(),
    }


class Memory:
    """Peak RSS of this process over a stretch of code (Linux: VmHWM reset via clear_refs)."""

    def __init__(self) -> None:
        self.resettable = False
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.resettable = "VmHWM" in Path("/proc/self/status").read_text()
        except OSError:
            self.resettable = False

    @staticmethod
    def _status(key: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        return 0

    def rss(self) -> int:
        try:
            return self._status("VmRSS")
        except OSError:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def reset(self) -> None:
        if self.resettable:
            Path("/proc/self/clear_refs").write_text("5")

    def peak(self) -> int:
        if self.resettable:
            return self._status("VmHWM")
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


MEMORY = Memory()


@dataclass
class StageFigure:
    name: str
    rows: int = 0
    seconds: float = 0.0
    calls: int = 0
    peak_rss: int = 0  # bytes, the whole process
    growth: int = 0  # bytes above the RSS at the stage's start (max over calls)

    def add(self, rows: int, seconds: float, peak: int, start_rss: int) -> None:
        self.rows += rows
        self.seconds += seconds
        self.calls += 1
        self.peak_rss = max(self.peak_rss, peak)
        self.growth = max(self.growth, peak - start_rss)

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.name, "rows": self.rows, "seconds": round(self.seconds, 3), "calls": self.calls,
                "rows_per_s": round(self.rows / self.seconds) if self.seconds else None,
                "peak_rss_mb": round(self.peak_rss / 2**20, 1), "growth_mb": round(self.growth / 2**20, 1)}


class Stages:
    def __init__(self, names: list[str]) -> None:
        self.figures = {n: StageFigure(n) for n in names}

    @contextmanager
    def measure(self, name: str, rows: Callable[[], int] | int = 0) -> Iterator[dict[str, Any]]:
        """Time and peak-memory one call of a stage; `holder["rows"]` may be set inside the block."""
        holder: dict[str, Any] = {}
        start_rss = MEMORY.rss()
        MEMORY.reset()
        started = time.perf_counter()
        yield holder
        seconds = time.perf_counter() - started
        n = holder.get("rows", rows() if callable(rows) else rows)
        self.figures[name].add(int(n), seconds, MEMORY.peak(), start_rss)

    def add(self, name: str, rows: int, seconds: float) -> None:
        fig = self.figures[name]
        fig.rows += rows
        fig.seconds += seconds
        fig.calls += 1

    def table(self, title: str) -> list[dict[str, Any]]:
        say(f"  {title}")
        say(f"    {'stage':<22}{'rows':>11}{'wall s':>9}{'rows/s':>11}{'peak RSS MB':>13}{'growth MB':>11}{'calls':>7}")
        out = []
        for fig in self.figures.values():
            d = fig.as_dict()
            out.append(d)
            rate = f"{d['rows_per_s']:,}" if d["rows_per_s"] else "-"
            peak = f"{d['peak_rss_mb']:,.0f}" if fig.peak_rss else "-"
            growth = f"{d['growth_mb']:,.0f}" if fig.peak_rss else "-"
            say(f"    {fig.name:<22}{fig.rows:>11,}{fig.seconds:>9.2f}{rate:>11}{peak:>13}{growth:>11}{fig.calls:>7}")
        return out


# --------------------------------------------------------------------------- sample
@dataclass(frozen=True)
class Sample:
    folder: Path
    jobs: int
    lines: int

    @property
    def db(self) -> Path:
        return self.folder / "spectrum.db"

    @property
    def fixture(self) -> Path:
        return self.folder / "procore_fixture.json"

    @property
    def odbc(self) -> str:
        return f"DRIVER={{SQLite3}};Database={self.db}"


def sample(workdir: Path, jobs: int, lines: int, seed: int, dirty_rate: float, rebuild: bool = False) -> tuple[Sample, float | None]:
    """The scale sample of that size (built once and kept); returns it and the build time (None if reused)."""
    folder = workdir / "samples" / f"scale_s{seed}_d{dirty_rate:g}_{jobs}x{lines}"
    s = Sample(folder, jobs, lines)
    done = folder / "built.json"
    if done.is_file() and s.db.is_file() and s.fixture.is_file() and not rebuild:
        return s, None
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    subprocess.run(
        [PY, "-m", "standins.spectrum_sample", "build", "--profile", "scale", "--jobs", str(jobs), "--lines", str(lines),
         "--seed", str(seed), "--dirty-rate", str(dirty_rate), "--odbc", s.odbc, "--procore-fixture", str(s.fixture), "--no-verify"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    seconds = time.perf_counter() - started
    done.write_text(json.dumps({"jobs": jobs, "lines": lines, "seed": seed, "dirty_rate": dirty_rate, "seconds": seconds}))
    return s, seconds


def spectrum_jobs(conn: Any, fixture: Path) -> list[tuple[str, str, int]]:
    """(company code, job number, Procore company id) of every job, company by company."""
    from include.budget_import.spectrum_source import list_jobs
    from scripts.local_airflow import procore_target_from_fixture

    companies = procore_target_from_fixture("http://unused", fixture).companies
    return [(code, job.job_number, cid) for code, cid in sorted(companies.items()) for job in list_jobs(conn, code)]


# --------------------------------------------------------------------------- Procore: calls, minimum, state
def procore_state(db: Path) -> dict[str, Any]:
    """What the emulator holds (read-only, straight from its SQLite file): the data the minimum is computed from."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        def per(sql: str) -> dict[int, int]:
            return {int(k): int(v) for k, v in conn.execute(sql)}

        return {
            "types": per("SELECT company_id, COUNT(*) FROM line_item_types GROUP BY company_id"),
            "codes": per("SELECT project_id, COUNT(*) FROM cost_codes GROUP BY project_id"),
            "wbs": per("SELECT project_id, COUNT(*) FROM wbs_codes GROUP BY project_id"),
            "lines": per("SELECT project_id, COUNT(*) FROM budget_line_items GROUP BY project_id"),
            # codes a budget row cannot name by its cost_code_origin_id (not "<project's origin_id>|<phase>"): read the list
            "foreign_codes": per("SELECT c.project_id, COUNT(*) FROM cost_codes c JOIN projects p ON p.id = c.project_id "
                                 "WHERE c.origin_id IS NULL OR p.origin_id IS NULL OR substr(c.origin_id, 1, length(p.origin_id) + 1) <> p.origin_id || '|' "
                                 "GROUP BY c.project_id"),
        }
    finally:
        conn.close()


def pages(n: int, per_page: int = 1000) -> int:
    """Pages a list of n items takes (an empty list still costs one call)."""
    return max(1, math.ceil(n / per_page))


def batches(n: int, size: int = 1000) -> int:
    return math.ceil(n / size)


def minimum_calls(before: dict[str, Any], after: dict[str, Any], jobs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fewest REST calls that can do this run's work, from the data before and after it.

    Per company (read once per run, whatever the number of jobs): line item types (pages), their sync
    (batches of the types that were missing), the budget view id (1); when any job creates lines: the WBS
    segments (1) and, when WBS codes are missing, the cost type segment items (pages).
    Per batch: the company's projects (pages), as made by the batch's client (`prepare_batch`); a batch of
    one job asks for its project by origin_id (1).
    Per job that reached the load: budget lines (pages of what existed); cost codes (pages of what
    existed) when the budget holds codes this tool did not create for the job or anything is written;
    when anything is written: the Budget tool, the budget lock and the permission manifest (3) and sync
    batches of the missing codes; when lines are created: WBS codes (pages of what existed) and, when
    combinations are missing, the cost code segment items (pages) and bulk-create batches; sync batches of
    the creates and updates together (Procore's sync takes both); one call per deleted line (Procore has no
    bulk delete). The writes' answers show the final state, so no verification read is counted.
    A blocked job costs the reads it made before it was blocked (counted as made).
    Token requests are not REST calls and are reported apart.
    """
    companies: set[int] = set()
    creating: set[int] = set()  # companies with a job that creates lines
    coding: set[int] = set()  # companies with a job that creates WBS codes
    per_job = []
    total = 0
    for job in jobs:
        if job.get("batch"):  # a batch's project list (and a blocked job's reads there), as made
            total += job["stats"]["reads"]
            continue
        if job.get("blocked"):  # its reads as made: in its batch's when blocked there, else its load's
            total += 0 if job.get("blocked_in_prepare") else job["stats"]["reads"] + job["stats"]["writes"]
            continue
        p, c = job["project_id"], job["company_id"]
        companies.add(c)
        codes0, wbs0, lines0 = before["codes"].get(p, 0), before["wbs"].get(p, 0), before["lines"].get(p, 0)
        codes_missing = after["codes"].get(p, 0) - codes0
        wbs_missing = after["wbs"].get(p, 0) - wbs0
        plan = job["plan"]
        writes = bool(codes_missing or plan["create"] or plan["update"] or plan["delete"])
        n = pages(lines0)
        if writes or before["foreign_codes"].get(p, 0):
            n += pages(codes0)
        if writes:
            n += 3 + batches(codes_missing)  # Budget tool, budget lock, permission manifest: before the first write
        if plan["create"]:
            creating.add(c)
            n += pages(wbs0)
            if wbs_missing:
                coding.add(c)
                n += pages(after["codes"].get(p, 0)) + batches(wbs_missing)
        n += batches(plan["create"] + plan["update"]) + plan["delete"]
        per_job.append(n)
        total += n
    company_calls = 0
    for c in companies:
        types0 = before["types"].get(c, 0)
        company_calls += pages(types0) + batches(after["types"].get(c, 0) - types0) + 1
        company_calls += (1 if c in creating else 0) + (pages(after["types"].get(c, 0)) if c in coding else 0)
    return {"total": total + company_calls, "per_job": per_job, "company_calls": company_calls}


def request_log(base_url: str, since: int = 0) -> list[dict[str, Any]]:
    import requests

    body = requests.get(f"{base_url}/_emulator/requests", params={"since": since}, timeout=120).json()
    return cast(list[dict[str, Any]], body.get("requests", body) if isinstance(body, dict) else body)


# --------------------------------------------------------------------------- end to end
@dataclass
class RunFigures:
    label: str
    stages: Stages
    jobs: list[dict[str, Any]] = field(default_factory=list)
    wall: float = 0.0
    calls: dict[str, Any] = field(default_factory=dict)


class PlanTimer:
    """Times plan_merge wherever the pipeline calls it (pipeline and loader), without changing what runs."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._patched: list[tuple[Any, Any]] = []

    def __enter__(self) -> PlanTimer:
        from include.budget_import import load as load_module
        from include.budget_import import pipeline

        for module in (pipeline, load_module):
            original = module.plan_merge

            def timed(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - started

            self._patched.append((module, original))
            module.plan_merge = timed  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: Any) -> None:
        for module, original in self._patched:
            module.plan_merge = original


def run_jobs(label: str, sample_: Sample, base_url: str, jobs: list[tuple[str, str, int]], mode: str, reports: Path,
             jobs_per_batch: int) -> RunFigures:
    """The nightly's path, in this process: each batch of one company's jobs prepared (prerequisites and
    extraction job by job, then one validation and one reshape for the batch) with its own Procore client,
    as the `prepare_batch` task has; then each job loaded with a fresh client, as each `load_job` task has."""
    import pyodbc
    import requests

    from include.budget_import import pipeline
    from include.budget_import.artifacts import RunFolder
    from include.budget_import.prepare import prepare_jobs
    from include.budget_import.procore.api import ProcoreBudgetApi
    from include.budget_import.procore.client import ProcoreClient
    from include.budget_import.procore.shared_token import shared_token_for
    from scripts.local_airflow import procore_target_from_fixture

    target = procore_target_from_fixture(base_url, sample_.fixture)
    run = RunFolder(f"benchmark_{label}_{int(time.time())}", root=reports)
    stages = Stages(["prerequisites", "extract", "validate", "reshape", "plan", "load"])
    figures = RunFigures(label, stages)
    conn = pyodbc.connect(sample_.odbc)

    def new_api() -> tuple[Any, Any]:
        client = ProcoreClient(session=requests.Session(), api_base=base_url, login_url=base_url,
                               client_id=target.client_id, client_secret=target.client_secret,
                               shared_token=shared_token_for(base_url, target.client_id, target.client_secret))  # as the hook's
        return client, ProcoreBudgetApi(client)

    started = time.perf_counter()
    done_jobs = 0
    try:
        for batch in job_batches(jobs, jobs_per_batch):
            client, api = new_api()
            requests_ = [pipeline.JobRequest(code, job_number, company_id, merge_mode=mode) for code, job_number, company_id in batch]
            start_rss = MEMORY.rss()
            MEMORY.reset()
            prepared = prepare_jobs(conn, api, requests_, run)
            peak = MEMORY.peak()
            for name, key in (("prerequisites", "prerequisites_seconds"), ("extract", "seconds")):
                for job in prepared.prepared:
                    stages.figures[name].add(1 if name == "prerequisites" else job["stages"]["extract"]["extracted"],
                                             job["stages"]["extract"][key], peak, start_rss)
            for name in ("validate", "reshape"):
                for job in prepared.prepared:
                    stages.figures[name].add(job["stages"]["validate"]["rows"], job["stages"][name]["seconds"], peak, start_rss)
            # the batch's own client made the prerequisite reads (minimum_calls counts 3 per prepared job)
            figures.jobs.append({"batch": True, "prepared": len(prepared.prepared), "stats": client.stats.as_dict()})
            for result in prepared.blocked:
                figures.jobs.append({"company_code": result["company_code"], "job_number": result["job_number"], "blocked": result["reason"],
                                     "blocked_in_prepare": True, "stats": {k: 0 for k in client.stats.as_dict()}})
            for job in prepared.prepared:
                request = job["request"]
                client, api = new_api()
                folder = run.job(request["company_code"], request["job_number"])
                with PlanTimer() as plan_timer, stages.measure("load") as m:
                    result = pipeline.load_prepared(api, job, folder)
                    m["rows"] = job["stages"]["reshape"]["line_items"]
                # plan_merge ran inside the load: report it as its own stage and the rest as the load.
                stages.figures["load"].seconds -= plan_timer.seconds
                stages.add("plan", job["stages"]["reshape"]["line_items"], plan_timer.seconds)
                record: dict[str, Any] = {"company_code": request["company_code"], "job_number": request["job_number"],
                                          "company_id": request["procore_company_id"], "project_id": int(job["ready"]["procore_project_id"]),
                                          "stats": client.stats.as_dict()}
                if result["status"] == "blocked":
                    record["blocked"] = result["reason"]
                else:
                    record["plan"] = result["stages"]["load"]["plan"]
                    record["reconciled"] = result["stages"]["load"]["reconciled"]
                figures.jobs.append(record)
            done_jobs += len(batch)
            if len(jobs) >= 100:
                print(f"    ... {done_jobs:,}/{len(jobs):,} jobs, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    finally:
        conn.close()
    figures.wall = time.perf_counter() - started
    return figures


def job_batches(jobs: list[tuple[str, str, int]], size: int) -> list[list[tuple[str, str, int]]]:
    """The batches the nightly's discover_jobs makes of these (company code, job number, company id) jobs."""
    from include.budget_import.dag_tasks import job_batches as nightly_batches

    found = [{"company_code": code, "job_number": job, "procore_company_id": company_id} for code, job, company_id in jobs]
    return [[(j["company_code"], j["job_number"], j["procore_company_id"]) for j in batch["jobs"]] for batch in nightly_batches(cast(Any, found), size)]


def api_figures(figures: RunFigures, before: dict[str, Any], after: dict[str, Any], log: list[dict[str, Any]]) -> dict[str, Any]:
    made_reads = sum(j["stats"]["reads"] for j in figures.jobs)
    made_writes = sum(j["stats"]["writes"] for j in figures.jobs)
    minimum = minimum_calls(before, after, figures.jobs)
    rest = [e for e in log if e["path"].startswith("/rest")]
    return {
        "made": made_reads + made_writes, "reads": made_reads, "writes": made_writes,
        "minimum": minimum["total"], "minimum_company_calls": minimum["company_calls"],
        "ratio": round((made_reads + made_writes) / minimum["total"], 3) if minimum["total"] else None,
        "token_fetches": sum(j["stats"]["token_fetches"] for j in figures.jobs),
        "tokens_shared": sum(j["stats"].get("tokens_shared", 0) for j in figures.jobs),
        "retries": sum(j["stats"]["retries"] for j in figures.jobs),
        "rate_limited_429": sum(j["stats"]["rate_limited"] for j in figures.jobs),
        "waited_for_limits_s": round(sum(j["stats"]["waited_for_limits_s"] for j in figures.jobs), 2),
        "emulator_rest_requests": len(rest),
        "emulator_writes": sum(1 for e in rest if e["method"] != "GET"),
        "emulator_429": sum(1 for e in log if e.get("status") == 429),
        "blocked": sum(1 for j in figures.jobs if j.get("blocked")),
        "not_reconciled": sum(1 for j in figures.jobs if not j.get("blocked") and not j.get("batch") and not j.get("reconciled")),
        "plan": {k: sum(j.get("plan", {}).get(k, 0) for j in figures.jobs) for k in ("create", "update", "delete", "keep")},
    }


def print_api(calls: dict[str, Any], title: str) -> None:
    say(f"  {title}: {calls['made']:,} REST calls made ({calls['reads']:,} reads, {calls['writes']:,} writes) vs minimum "
        f"{calls['minimum']:,} -> {calls['ratio']}x (target <= {TARGETS['api_ratio']}x)")
    say(f"    plan: {calls['plan']}; emulator saw {calls['emulator_rest_requests']:,} REST requests, "
        f"{calls['emulator_writes']:,} writes, {calls['emulator_429']} answered 429")
    say(f"    token requests {calls['token_fetches']} (tasks that took the shared token instead: {calls['tokens_shared']}), retries "
        f"{calls['retries']}, 429 seen by the client {calls['rate_limited_429']}, waited for limits {calls['waited_for_limits_s']} s; "
        f"blocked jobs {calls['blocked']}, not reconciled {calls['not_reconciled']}")


def end_to_end(args: argparse.Namespace, s: Sample, results: dict[str, Any]) -> None:
    import pyodbc
    import requests

    from standins.procore_emulator.server import EmulatorServer

    if not os.environ.get("AIRFLOW__CORE__FERNET_KEY"):  # as every deployment has one (docker-compose.yaml): the tasks share one token
        from cryptography.fernet import Fernet

        os.environ["AIRFLOW__CORE__FERNET_KEY"] = Fernet.generate_key().decode()
    conn = pyodbc.connect(s.odbc)
    jobs = spectrum_jobs(conn, s.fixture)
    conn.close()
    emu_dir = Path(tempfile.mkdtemp(prefix="procore_", dir=args.workdir))
    extra = ["--hourly-limit", str(PROCORE_LIMITS["hourly_limit"]), "--spike-limit", str(PROCORE_LIMITS["spike_limit"]),
             "--spike-window", str(PROCORE_LIMITS["spike_window_seconds"])] if args.procore_limits else []
    started = time.perf_counter()
    try:
        with EmulatorServer(emu_dir / "procore.db", s.fixture, reset=True, extra_args=extra, startup_timeout=600) as emu:
            say(f"  Procore emulator on {emu.base_url} (seeded and started in {time.perf_counter() - started:.1f} s)"
                + (f"; limits {requests.get(emu.base_url + '/_emulator/limits', timeout=30).json()}" if args.procore_limits else ""))
            for label in ("first", "unchanged"):
                before = procore_state(emu.db_path)
                since = (request_log(emu.base_url) or [{"seq": 0}])[-1]["seq"]
                figures = run_jobs(label, s, emu.base_url, jobs, args.mode, args.workdir / "reports", args.jobs_per_batch)
                after = procore_state(emu.db_path)
                log = [e for e in request_log(emu.base_url, since) if e["seq"] > since]
                calls = api_figures(figures, before, after, log)
                title = "first run (creates the budgets)" if label == "first" else "second run, nothing changed in Spectrum"
                say(f"\n  {title}: {len(jobs)} jobs in {figures.wall:.1f} s ({figures.wall / max(len(jobs), 1):.3f} s per job, "
                    f"load average {os.getloadavg()[0]:.1f})")
                table = figures.stages.table(f"per stage (batches of {args.jobs_per_batch} jobs prepared, then each job loaded, in this process;"
                                             " prerequisites to reshape share their batch's peak memory):")
                print_api(calls, "Procore API")
                results[f"e2e_{label}"] = {"jobs": len(jobs), "wall_s": round(figures.wall, 2), "stages": table, "api": calls,
                                           "loadavg": os.getloadavg()}
    finally:
        shutil.rmtree(emu_dir, ignore_errors=True)


# --------------------------------------------------------------------------- stages only (no Procore)
def bare_fetch(conn: Any, job: Any, transactions: Any) -> tuple[int, float]:
    """The driver's own speed: budget_lines.sql executed and fetched with nothing done to the rows, bound as
    iter_budget_lines binds it (`transactions`: the company's forms of job numbers, read once per batch)."""
    from include.budget_import.spectrum_source import budget_line_parameters
    from include.budget_import.sql_files import load_sql

    parameters = budget_line_parameters(job, transactions)
    started = time.perf_counter()
    cursor = conn.cursor()
    cursor.execute(load_sql("budget_lines"), parameters)
    rows = cursor.fetchall()
    cursor.close()
    return len(rows), time.perf_counter() - started


def stages_only(args: argparse.Namespace, s: Sample, results: dict[str, Any]) -> None:
    """Extraction against a bare fetch, then validate + reshape + plan on the nightly's path (batches of
    `--jobs-per-batch` jobs, extracted in memory, validated and reshaped together, each job planned): the
    path both DAGs run. Each batch's stages are then run by the hand-written baseline (scripts/stage_baseline.py)
    on the same inputs, which must give the same results."""
    import pyodbc

    from include.budget_import.artifacts import RunFolder
    from include.budget_import.handoff import read_load_input
    from include.budget_import.prepare import (
        ROWS_PER_VALIDATION,
        ExtractedJob,
        company_cost_types,
        company_transaction_job_numbers,
        extract_lines,
        validate_and_reshape,
    )
    from include.budget_import.prerequisites import JobRequest
    from include.budget_import.reshape import extracted_frame
    from include.budget_import.spectrum_source import find_job, iter_budget_lines, transaction_job_numbers
    from scripts import stage_baseline

    conn = pyodbc.connect(s.odbc)
    jobs = spectrum_jobs(conn, s.fixture)
    stamp = int(time.time())
    nightly_run = RunFolder(f"benchmark_stages_{stamp}", root=args.workdir / "reports")
    extract = Stages(["bare pyodbc fetch", "iter_budget_lines", "nightly extraction"])
    nightly = Stages(["validate", "reshape", "plan"])
    baseline = Stages(["validate", "reshape", "plan"])
    gc.collect()

    def validate_reshape_plan(extracted: list[Any]) -> None:
        start_rss = MEMORY.rss()
        MEMORY.reset()
        prepared = validate_and_reshape(extracted)
        peak = MEMORY.peak()
        for job in prepared:
            for name in ("validate", "reshape"):
                nightly.figures[name].add(job["stages"]["validate"]["rows"], job["stages"][name]["seconds"], peak, start_rss)
        # the hand-written baseline on the same inputs, right after (noise hits both alike); one validation per company's cost types
        frames, rows = [e.frame for e in extracted], sum(len(e.frame) for e in extracted)
        groups: dict[tuple[str, ...], list[int]] = {}
        for n, e in enumerate(extracted):
            groups.setdefault(tuple(sorted(e.cost_types)), []).append(n)
        reasons: dict[int, dict[int, str]] = {}
        with baseline.measure("validate", rows):
            for known, members in groups.items():
                reasons.update(zip(members, stage_baseline.validate([frames[n] for n in members], known), strict=True))
        with baseline.measure("reshape", rows):
            reshaped: list[Any] = stage_baseline.reshape(frames, [reasons[n] for n in range(len(frames))])
        extracted.clear()
        del frames
        for n, job in enumerate(prepared):
            folder = nightly_run.job(job["request"]["company_code"], job["request"]["job_number"])
            what = f"{job['request']['company_code']}/{job['request']['job_number']}"
            handed = read_load_input(job["load_input"])  # the plan's own input (plan_timed discards it)
            stage_baseline.assert_prepared_same(what, folder, job["stages"]["reshape"], handed, reasons.pop(n), reshaped[n])
            reshaped[n] = None  # (not held through the plans' memory figures)
            counts, existing = plan_timed(nightly, folder, job["load_input"], args.mode)
            with baseline.measure("plan", len(handed.line_items["cost_code"])):
                mine_counts = stage_baseline.plan(handed.line_items, existing, args.mode)
            stage_baseline.assert_same(f"{what} plan (counts)", counts, mine_counts)

    for batch in job_batches(jobs, args.jobs_per_batch):
        extracted: list[Any] = []
        known_types: dict[str, Any] = {}
        known_forms: dict[str, Any] = {}
        for code, job_number, company_id in batch:
            job = find_job(conn, code, job_number)
            assert job is not None, f"{code}/{job_number} is not in the sample"
            ready = cast(Any, {"company_code": code, "job_number": job_number})  # what the stages read of a ReadyJob
            # Interleaved per job, so machine noise hits every side alike; the bare fetch and iter_budget_lines
            # use the forms the nightly's extraction read (which counts reading them once per company and batch).
            forms = known_forms.get(code) or transaction_job_numbers(conn, code)
            n, seconds = bare_fetch(conn, job, forms)
            extract.add("bare pyodbc fetch", n, seconds)
            started = time.perf_counter()
            frame = extracted_frame(iter_budget_lines(conn, job, transactions=forms))
            extract.add("iter_budget_lines", len(frame), time.perf_counter() - started)
            del frame
            with extract.measure("nightly extraction") as m:  # prepare_jobs' extraction: the lines, the cost types and forms once per batch
                if code not in known_types:
                    known_forms[code] = company_transaction_job_numbers(conn, job)
                    known_types[code] = company_cost_types(conn, job)
                frame = extract_lines(conn, job, known_forms[code])
                m["rows"] = len(frame)
            folder = nightly_run.job(code, job_number)
            extracted.append(ExtractedJob(JobRequest(code, job_number, company_id), ready, folder, frame, known_types[code], {}))
            if sum(len(e.frame) for e in extracted) >= ROWS_PER_VALIDATION:  # as prepare_jobs bounds a batch's memory
                validate_reshape_plan(extracted)
                extracted = []
        if extracted:
            validate_reshape_plan(extracted)
    conn.close()
    total_rows = extract.figures["nightly extraction"].rows
    say(f"\n  extraction of {len(jobs)} jobs ({total_rows:,} lines), load average {os.getloadavg()[0]:.1f}:")
    ext_table = extract.table("per stage:")
    bare = extract.figures["bare pyodbc fetch"].seconds
    ratio_core = extract.figures["iter_budget_lines"].seconds / bare
    ratio_rows = extract.figures["nightly extraction"].seconds / bare
    say(f"  extraction vs bare fetch: iter_budget_lines + frame {ratio_core:.2f}x; the nightly's extraction (also "
        f"the company's cost types and forms of job numbers once per batch) {ratio_rows:.2f}x (target <= {TARGETS['extract_ratio']}x)")
    results["extract"] = {"stages": ext_table, "ratio_core": round(ratio_core, 3), "ratio_rows": round(ratio_rows, 3)}

    nightly_wall = sum(f.seconds for f in nightly.figures.values())
    say(f"\n  validate + reshape + plan on the nightly's path (batches of {args.jobs_per_batch} jobs validated and reshaped "
        f"together, each job planned): {nightly_wall:.2f} s for {total_rows:,} lines, load average {os.getloadavg()[0]:.1f}")
    nightly_table = nightly.table("per stage:")
    results["stages_nightly"] = {"rows": total_rows, "wall_s": round(nightly_wall, 3), "stages": nightly_table,
                                 "jobs_per_batch": args.jobs_per_batch, "peak_rss_mb": max(d["peak_rss_mb"] for d in nightly_table)}
    say(f"\n  the same stages by the hand-written baseline (scripts/stage_baseline.py; same inputs, same results: asserted per job; "
        f"the pipeline's figures include writing each job's reports and load input, the baseline's compute only), "
        f"load average {os.getloadavg()[0]:.1f}:")
    compared: dict[str, Any] = {}
    for name, fig in baseline.figures.items():
        mine, theirs = fig.seconds, nightly.figures[name].seconds
        compared[name] = {"pipeline_s": round(theirs, 3), "baseline_s": round(mine, 3), "ratio": round(theirs / mine, 2) if mine else None}
        say(f"    {name:<10}pipeline {theirs:8.2f} s, baseline {mine:8.2f} s -> {compared[name]['ratio']}x (target <= {TARGETS['stage_vs_baseline']}x)")
    compared["vs_bare_fetch"] = round(nightly_wall / bare, 2) if bare else None
    say(f"    validate + reshape + plan {nightly_wall:.2f} s = {compared['vs_bare_fetch']}x the bare pyodbc fetch of the same rows ({bare:.2f} s; "
        f"target <= {TARGETS['stages_vs_bare_fetch']}x)")
    results["stages_vs_baseline"] = compared


def plan_timed(stages: Stages, folder: Any, ref: Any, mode: str) -> tuple[dict[str, int], list[Any]]:
    """The plan part of the load stage without Procore: Procore already holds this very budget (the nightly's
    usual case: every line matched, nothing to write), and the plan report is written as the load writes it.
    Returns the plan's counts and the Procore lines it was planned against."""
    from include.budget_import.handoff import discard_in_process, read_load_input
    from include.budget_import.job_reports import write_report
    from include.budget_import.plan import ExistingLine, plan_merge

    existing = [ExistingLine(i, d.cost_code, d.cost_type, d.amount) for i, d in enumerate(read_load_input(ref).desired())]
    with stages.measure("plan") as m:
        desired = read_load_input(ref).desired()
        plan = plan_merge(desired, existing, mode)
        write_report(folder, "plan.json", {**plan.as_dict(), "dry_run": True, "project_id": None})
        m["rows"] = len(desired)
    discard_in_process(ref)
    return plan.counts(), existing


# --------------------------------------------------------------------------- DAG files and per-task overhead
IMPORT_ONE = """
import importlib.util, sys, time
import airflow.sdk  # Airflow is loaded before the file, as in the DAG processor
path = sys.argv[1]
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("dag_under_test", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(time.perf_counter() - started)
"""


def airflow_scratch_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "PYTHONPATH": str(ROOT)})
    return env


def dag_imports(args: argparse.Namespace, results: dict[str, Any]) -> None:
    home = Path(tempfile.mkdtemp(prefix="airflow_parse_", dir=args.workdir))
    env = airflow_scratch_env(home)
    rows = []
    say(f"\n  DAG file import time (fresh subprocess per file, Airflow already imported; best and median of {args.parse_repeat}):")
    try:
        for path in sorted((ROOT / "dags").glob("*.py")):
            times = []
            for _ in range(args.parse_repeat):
                out = subprocess.run([PY, "-c", IMPORT_ONE, str(path)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
                if out.returncode != 0:
                    raise RuntimeError(f"{path.name} failed to import:\n{out.stderr[-2000:]}")
                times.append(float(out.stdout.strip().splitlines()[-1]))
            best, median = min(times), statistics.median(times)
            rows.append({"file": path.name, "best_s": round(best, 4), "median_s": round(median, 4)})
            flag = "ok" if best < TARGETS["dag_import_seconds"] else "OVER"
            say(f"    {path.name:<34} best {best:.3f} s, median {median:.3f} s  ({flag}, target < {TARGETS['dag_import_seconds']} s)")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    results["dag_imports"] = rows


def task_durations(airflow_db: Path, dag_id: str) -> list[tuple[str, str, float]]:
    conn = sqlite3.connect(f"file:{airflow_db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT task_id, state, (julianday(end_date) - julianday(start_date)) * 86400.0 FROM task_instance "
            "WHERE dag_id = ? AND run_id = (SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1)",
            (dag_id, dag_id),
        ).fetchall()
    finally:
        conn.close()
    return [(t, s or "", float(d or 0.0)) for t, s, d in rows]


def dag_overhead(args: argparse.Namespace, results: dict[str, Any]) -> None:
    from scripts.local_airflow import airflow_env, dags_test, migrate, procore_target_from_fixture, without_retries
    from standins.procore_emulator.server import EmulatorServer

    sizes = [int(x) for x in str(args.dag_jobs).split(",") if int(x) > 0]
    if len(sizes) < 2:
        return
    say(f"\n  Nightly DAG per-task overhead (`airflow dags test`, {sizes} jobs of one line each):")
    points = []
    for n in sizes:
        s, _ = sample(args.workdir, n, 1, args.seed, 0.0)
        folder = Path(tempfile.mkdtemp(prefix=f"dags_test_{n}_", dir=args.workdir))
        try:
            with EmulatorServer(folder / "procore.db", s.fixture, reset=True) as emu:
                env = airflow_env(folder / "airflow", s.db, procore_target_from_fixture(emu.base_url, s.fixture), folder / "reports")
                without_retries(env)
                env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
                migrate(env)
                started = time.perf_counter()
                out = dags_test(env, "spectrum_budget_nightly")
                wall = time.perf_counter() - started
                if out.returncode != 0:
                    raise RuntimeError(f"dags test at {n} jobs failed:\n{(out.stdout + out.stderr)[-3000:]}")
                tis = task_durations(folder / "airflow" / "airflow.db", "spectrum_budget_nightly")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        loads = [d for t, st, d in tis if t.startswith("load_job") and st == "success"]
        prepares = [d for t, st, d in tis if t == "prepare_batch" and st == "success"]
        point = {"jobs": n, "wall_s": round(wall, 2), "task_instances": len(tis), "load_tasks_run": len(loads), "prepare_tasks_run": len(prepares),
                 "job_work_mean_s": round((sum(loads) + sum(prepares)) / n, 3), "loadavg": os.getloadavg()[0]}
        points.append(point)
        say(f"    {n:>5} jobs: {wall:6.1f} s wall, {len(tis)} task instances ({len(prepares)} prepare_batch, {len(loads)} load_job), "
            f"tasks' own run time per job {point['job_work_mean_s']:.3f} s")
    a, b = points[0], points[-1]
    slope = (b["wall_s"] - a["wall_s"]) / (b["jobs"] - a["jobs"])
    work = b["job_work_mean_s"]
    overhead_job = slope - work
    tis_per_job = (b["task_instances"] - a["task_instances"]) / (b["jobs"] - a["jobs"])
    at_1000 = b["wall_s"] + (1000 - b["jobs"]) * slope
    say(f"    slope {slope:.3f} s per extra job ({tis_per_job:.2f} task instances per job), of which the tasks' own run "
        f"{work:.3f} s -> Airflow's overhead {overhead_job:.3f} s per job ({overhead_job / tis_per_job:.3f} s per task instance)")
    say(f"    extrapolated to 1,000 jobs: {at_1000:.0f} s wall with `dags test`, of which {overhead_job * 1000:.0f} s is per-task overhead")
    results["dag_overhead"] = {"points": points, "slope_s_per_job": round(slope, 4), "overhead_s_per_job": round(overhead_job, 4),
                               "overhead_s_per_task_instance": round(overhead_job / tis_per_job, 4), "extrapolated_1000_jobs_s": round(at_1000, 1)}


# --------------------------------------------------------------------------- targets
def verdicts(results: dict[str, Any]) -> list[str]:
    lines = []

    def line(ok: bool | None, text: str) -> None:
        lines.append(f"  [{'MET ' if ok else 'MISS' if ok is not None else ' -- '}] {text}")

    for key, title in (("e2e_first", "first run"), ("e2e_unchanged", "unchanged run")):
        calls = results.get(key, {}).get("api")
        if calls:
            line(calls["ratio"] is not None and calls["ratio"] <= TARGETS["api_ratio"], f"API calls {title}: {calls['ratio']}x the minimum")
    if "e2e_unchanged" in results:
        writes = results["e2e_unchanged"]["api"]["writes"]
        line(writes == 0, f"writes when nothing changed: {writes}")
        unchanged = results["e2e_unchanged"]
        per_job = unchanged["api"]["made"] / max(unchanged["jobs"], 1)
        night = per_job * 1000
        line(per_job <= TARGETS["unchanged_calls_per_job"] and night <= TARGETS["unchanged_calls_1000_jobs"],
             f"an unchanged job: {per_job:.2f} Procore REST calls (target <= {TARGETS['unchanged_calls_per_job']}; spec minimum for this data "
             f"{unchanged['api']['minimum'] / max(unchanged['jobs'], 1):.2f}); 1,000 unchanged jobs about {night:,.0f} calls a night "
             f"(target <= {TARGETS['unchanged_calls_1000_jobs']:,}) + {unchanged['api']['token_fetches']} token requests for {unchanged['jobs']} jobs "
             f"({unchanged['api']['tokens_shared']} tasks took the shared one)")
        calls = results["e2e_unchanged"]["api"]
        if results.get("procore_limits"):
            storms = results["e2e_first"]["api"]["emulator_429"] + calls["emulator_429"]
            line(storms <= 5, f"at Procore's limits: {storms} answers 429 in both runs, waited "
                              f"{results['e2e_first']['api']['waited_for_limits_s'] + calls['waited_for_limits_s']:.1f} s")
    for key, title, target in (("stages_nightly", "on the import path (both DAGs')", True),):
        st = results.get(key)
        if st:
            scaled = st["wall_s"] * ONE_MILLION / max(st["rows"], 1)
            ok = st["rows"] >= ONE_MILLION and st["wall_s"] < TARGETS["stages_1m_seconds"] and st["peak_rss_mb"] * 2**20 < TARGETS["stages_1m_peak_bytes"]
            note = "" if st["rows"] >= ONE_MILLION else f" (only {st['rows']:,} lines: {scaled:.1f} s per million by proportion)"
            line(ok if st["rows"] >= ONE_MILLION and target else None,
                 f"validate + reshape + plan {title}: {st['wall_s']:.1f} s, peak RSS {st['peak_rss_mb']:,.0f} MB{note}")
    if "extract" in results:
        r = results["extract"]
        manual = f"; the manual DAG's extract task with its hand-off file {r['ratio_stage']}x" if r.get("ratio_stage") else ""
        line(r["ratio_rows"] <= TARGETS["extract_ratio"],
             f"the nightly's extraction {r['ratio_rows']}x a bare pyodbc fetch (iter_budget_lines + frame {r['ratio_core']}x{manual})")
    baseline = results.get("stages_vs_baseline")
    if baseline:
        for stage in ("validate", "reshape", "plan"):
            b = baseline.get(stage)
            if b:
                line(b["ratio"] <= TARGETS["stage_vs_baseline"], f"{stage}: {b['pipeline_s']:.2f} s, {b['ratio']}x the hand-written baseline "
                                                                 f"({b['baseline_s']:.2f} s; target <= {TARGETS['stage_vs_baseline']}x)")
        if baseline.get("vs_bare_fetch") is not None:
            line(baseline["vs_bare_fetch"] <= TARGETS["stages_vs_bare_fetch"],
                 f"validate + reshape + plan {baseline['vs_bare_fetch']}x the bare driver fetch of the same rows "
                 f"(target <= {TARGETS['stages_vs_bare_fetch']}x)")
    load50k = results.get("unchanged_load")
    if load50k:
        line(load50k["seconds"] <= TARGETS["unchanged_50k_load_seconds"],
             f"unchanged load of a {load50k['lines']:,}-line job: {load50k['seconds']:.2f} s against the emulator (target <= "
             f"{TARGETS['unchanged_50k_load_seconds']} s), {load50k.get('calls')} Procore calls, reports {load50k.get('report_bytes', 0):,} bytes")
    sched = results.get("scheduler")
    if sched:
        for row in sched.get("verdicts", []):
            line(row.get("ok"), str(row.get("text")))
    tests = results.get("test_run")
    if tests:
        line(tests["seconds"] <= TARGETS["make_test_seconds"] if tests.get("exit_code") == 0 else False,
             f"last whole `make test`: {tests['seconds'] / 60:.1f} min, exit {tests.get('exit_code')}, at load {tests.get('load_start')} -> "
             f"{tests.get('load_end')} ({tests.get('finished_at')}; target <= {TARGETS['make_test_seconds'] // 60} min on an idle machine)")
    elif "test_run_missing" in results:
        line(None, "no whole `make test` run recorded on this checkout yet (scripts/run-tests.sh writes var/test-runs.jsonl)")
    if "dag_imports" in results:
        worst = max(results["dag_imports"], key=lambda r: r["best_s"])
        line(worst["best_s"] < TARGETS["dag_import_seconds"], f"slowest DAG file import {worst['file']} {worst['best_s']} s")
    if "dag_overhead" in results:
        o = results["dag_overhead"]
        line(None, f"nightly DAG overhead {o['overhead_s_per_task_instance']} s per task instance; "
                   f"1,000 jobs about {o['extrapolated_1000_jobs_s']:.0f} s with dags test")
    return lines


# --------------------------------------------------------------------------- where users wait (issue 19)
def last_test_run(workdir: Path) -> dict[str, Any] | None:
    """The newest whole-suite run scripts/run-tests.sh recorded in var/test-runs.jsonl (its wall time and load)."""
    path = ROOT / "var" / "test-runs.jsonl"
    if not path.is_file():
        return None
    runs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return runs[-1] if runs else None


def waiting_paths(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """The paths people wait on: an unchanged load of a large job against the emulator (scripts/bench_load.py),
    a one-project import through a real scheduler beside an empty DAG of the same shape (scripts/bench_scheduler.py),
    and the last recorded `make test`."""
    if args.load_lines:
        from scripts.bench_load import unchanged_load_figures

        say(f"\nUnchanged load of one {args.load_lines:,}-line job (pipeline.load against the emulator), load average {os.getloadavg()[0]:.1f}:")
        figures = unchanged_load_figures(args.load_lines)
        results["unchanged_load"] = {"lines": args.load_lines, "seconds": figures["unchanged_load_s"], "calls": figures["procore_calls"],
                                     "report_bytes": figures["plan_json_bytes"] + figures["reconciliation_json_bytes"], **figures}
        say("  " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    if not args.no_scheduler:
        from scripts.bench_scheduler import print_figures, scheduler_figures

        say(f"\nOne-project import through a real scheduler (LocalExecutor), load average {os.getloadavg()[0]:.1f}:")
        results["scheduler"] = scheduler_figures(workdir=args.workdir)
        print_figures(results["scheduler"])
    run = last_test_run(args.workdir)
    if run:
        results["test_run"] = run
    else:
        results["test_run_missing"] = True


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--lines", type=int, default=100, help="budget lines per job")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dirty-rate", type=float, default=0.02, help="share of lines with an awkward case (rejected or skipped)")
    parser.add_argument("--mode", default="override", choices=["override", "additive"])
    parser.add_argument("--jobs-per-batch", type=int, default=100, help="jobs prepared together, as the nightly's jobs_per_batch param")
    parser.add_argument("--stages-only", action="store_true", help="no Procore: extraction vs bare fetch, then validate + reshape + plan")
    parser.add_argument("--stages-jobs", type=int, default=1000,
                        help="a run that is not --stages-only also times the stages on a sample of its own, this many jobs (0 skips)")
    parser.add_argument("--stages-lines", type=int, default=1000, help="lines per job of that sample (issue 19's targets are at 1,000 x 1,000)")
    parser.add_argument("--procore-limits", action="store_true", help="emulator at Procore's documented limits (3600/hour, 25 per 10 s)")
    parser.add_argument("--skip-e2e", action="store_true", help="only the DAG figures")
    parser.add_argument("--no-dags", action="store_true", help="skip the DAG import times and per-task overhead")
    parser.add_argument("--dag-jobs", default="50,200", help="job counts for the nightly DAG overhead (0 to skip)")
    parser.add_argument("--parse-repeat", type=int, default=5)
    parser.add_argument("--load-lines", type=int, default=50_000, help="lines of the job whose unchanged load is timed (0 skips)")
    parser.add_argument("--no-scheduler", action="store_true", help="skip the one-project import through a real scheduler")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the sample even if one of that size exists")
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.ERROR)

    results: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "procore_limits": args.procore_limits}
    info = machine()
    results["machine"] = info
    say(f"Machine: {info['cpus']} CPUs ({info['cpu']}), {info['ram_bytes'] / 2**30:.1f} GiB RAM, Python {info['python']}, "
        f"{', '.join(f'{k} {v}' for k, v in info['versions'].items())}")
    say(f"Load average at start: {', '.join(f'{x:.2f}' for x in info['loadavg_start'])} (a shared machine makes every figure noisy)")
    say(f"Memory figures: {'VmHWM reset per stage' if MEMORY.resettable else 'ru_maxrss (never reset: the run-wide peak)'}")

    if not args.skip_e2e or args.stages_only:
        started = time.perf_counter()
        s, built = sample(args.workdir, args.jobs, args.lines, args.seed, args.dirty_rate, args.rebuild)
        say(f"\nSample: {args.jobs} jobs x {args.lines} lines (scale profile, seed {args.seed}, dirty rate {args.dirty_rate}) in {s.folder}"
            + (f", built in {built:.1f} s" if built is not None else ", reused"))
        results["sample"] = {"jobs": args.jobs, "lines": args.lines, "build_s": built}
        import_started = time.perf_counter()
        from include.budget_import import quality  # noqa: F401 - GE and pandas load once, outside the stage figures

        quality._batch_definition()
        say(f"  pandas + Great Expectations loaded in {time.perf_counter() - import_started:.1f} s (once per process; not in the stage figures)")
        if args.stages_only:
            stages_only(args, s, results)
        else:
            end_to_end(args, s, results)
            if args.stages_jobs > 0 and args.stages_lines > 0:  # so one run prints every target, the stages' at their own size
                staged, built = sample(args.workdir, args.stages_jobs, args.stages_lines, args.seed, args.dirty_rate, args.rebuild)
                say(f"\nStages sample: {args.stages_jobs} jobs x {args.stages_lines} lines in {staged.folder}"
                    + (f", built in {built:.1f} s" if built is not None else ", reused"))
                results["stages_sample"] = {"jobs": args.stages_jobs, "lines": args.stages_lines, "build_s": built}
                stages_only(args, staged, results)
        results["main_wall_s"] = round(time.perf_counter() - started, 1)

    if not args.no_dags:
        dag_imports(args, results)
        if str(args.dag_jobs) != "0":
            dag_overhead(args, results)
    waiting_paths(args, results)

    results["loadavg_end"] = os.getloadavg()
    say("\nTargets (issues 9 and 19):")
    for line in verdicts(results):
        say(line)
    out = args.json or args.workdir / "results" / (f"{time.strftime('%Y%m%d-%H%M%S')}_{args.jobs}x{args.lines}"
                                                   f"{'_stages' if args.stages_only else ''}{'_limits' if args.procore_limits else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    say(f"\nFigures written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
