"""Run the reliability suites and write their figures: `python -m scripts.reliability_figures`.

Runs `pytest tests/reliability` (the fault matrix with its long `slow` variant, the crash, Spectrum-fault,
concurrency and bad-input tests) with RELIABILITY_RECORD set, so every run appends what it injected and
what it found to a JSON-lines file; then prints the figures and rewrites the block between the
`figures` markers of docs/reliability.md.

Options: --quick (leave out the `slow` tests), --no-write (print only), --records FILE (tabulate an
existing records file instead of running the tests), anything after `--` goes to pytest.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- figures:begin (scripts/reliability_figures.py writes this block) -->", "<!-- figures:end -->"
FAULT_KINDS = ("error", "rate_limit", "slow", "drop", "lost_response")


def run_tests(records: Path, quick: bool, extra: list[str]) -> tuple[int, str, float]:
    command = [sys.executable, "-m", "pytest", "tests/reliability", "-q", "-p", "no:cacheprovider"]
    if quick:
        command += ["-m", "not slow"]
    env = {**os.environ, "RELIABILITY_RECORD": str(records), "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    process = subprocess.run(command + extra, cwd=ROOT, env=env, text=True, capture_output=True)
    seconds = time.monotonic() - started
    lines = [line for line in process.stdout.splitlines() if re.search(r"\b(passed|failed|error)\b", line)]
    summary = lines[-1].strip("= ") if lines else f"pytest exited {process.returncode}"
    if process.returncode != 0:
        sys.stderr.write(process.stdout[-6000:] + process.stderr[-3000:])
    return process.returncode, summary, seconds


def load(records: Path) -> list[dict[str, Any]]:
    if not records.is_file():
        return []
    return [json.loads(line) for line in records.read_text(encoding="utf-8").splitlines() if line.strip()]


def figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    faults, crashes, spectrum, corpus, concurrency = (by_kind[k] for k in ("fault_run", "crash", "spectrum_fault", "bad_input", "concurrency"))
    injected = Counter()
    for run in faults:
        injected.update({k: v for k, v in run["injected"].items() if v})
        injected["token expired"] += run.get("tokens_expired", 0)
        if "limit" in run["scenario"]:
            injected["real rate limit met (429 or paced)"] += run.get("rate_limited", 0) + run.get("paced", 0)
    survived = sum(run["injected_total"] for run in faults if run["survived"])
    checked = [*faults, *crashes, *corpus, *concurrency]
    return {
        "fault_runs": len(faults),
        "fault_runs_converged": sum(1 for run in faults if run["survived"]),
        "jobs_imported_under_faults": sum(run["jobs"] for run in faults),
        "faults_injected": sum(injected.values()),
        "faults_survived": survived,
        "injected_by_kind": dict(injected),
        "client_retries": sum(run["client_retries"] for run in faults),
        "task_retries": sum(run["task_retries"] for run in faults),
        "ambiguous_writes": sum(run["ambiguous_writes"] for run in faults),
        "crash_runs": len(crashes),
        "crash_runs_converged": sum(1 for c in crashes if c["converged"]),
        "spectrum_faults": len(spectrum),
        "spectrum_faults_clear": sum(1 for s in spectrum if s["clear_error"] and s["procore_writes"] == 0),
        "identity_cases": len(by_kind["identity"]),
        "identity_cases_ok": sum(1 for c in by_kind["identity"] if c["ok"]),
        "bad_inputs": len(corpus),
        "bad_inputs_as_expected": sum(1 for c in corpus if c["ok"]),
        "bad_input_outcomes": Counter(c["outcome"] if c["outcome"] != "synced" or c["expect"] == "synced" else c["expect"] for c in corpus),
        "bad_input_reasons": Counter(r for c in corpus for r in c.get("reasons", [])),
        "concurrency_runs": len(concurrency),
        "concurrency_overlaps": sum(1 for c in concurrency if c["same_project_overlap"]),
        "lines_checked": sum(r.get("lines_expected", 0) for r in checked),
        "lines_lost": sum(r.get("lines_lost", 0) for r in checked),
        "duplicates": sum(r.get("duplicates", 0) for r in checked),
        "extra_lines": sum(r.get("extra_lines", r.get("extra", 0)) for r in checked),
        "secret_leaks": sum(r.get("secret_leaks", 0) for r in faults),
        "scenarios": _scenarios(faults),
        "crashes": crashes,
        "spectrum": spectrum,
    }


def _scenarios(faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for run in faults:
        row = table.setdefault(run["scenario"], {"scenario": run["scenario"], "runs": 0, "converged": 0, "injected": Counter(), "total": 0,
                                                  "client_retries": 0, "task_retries": 0, "ambiguous_writes": 0, "lost": 0, "duplicates": 0,
                                                  "tokens": 0, "limit": 0})
        row["runs"] += 1
        row["converged"] += run["survived"]
        row["injected"].update({k: v for k, v in run["injected"].items() if v})
        row["total"] += run["injected_total"]
        row["tokens"] += run.get("tokens_expired", 0)
        row["limit"] += run.get("rate_limited", 0) + run.get("paced", 0) if "limit" in run["scenario"] else 0
        for key in ("client_retries", "task_retries", "ambiguous_writes"):
            row[key] += run[key]
        row["lost"] += run["lines_lost"]
        row["duplicates"] += run["duplicates"]
    return list(table.values())


def _injected_text(row: dict[str, Any]) -> str:
    names = {"error": "5xx", "rate_limit": "429", "slow": "slow", "drop": "dropped", "lost_response": "lost response"}
    parts = [f"{row['injected'][k]} {names[k]}" for k in FAULT_KINDS if row["injected"].get(k)]
    if row["tokens"]:
        parts.append(f"{row['tokens']} tokens expired")
    if row["limit"]:
        parts.append(f"{row['limit']} limit hits")
    return ", ".join(parts) or "0"


def render(f: dict[str, Any], summary: str, seconds: float, quick: bool) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True, capture_output=True).stdout.strip()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    ok = lambda good, total: f"{good} of {total}"  # noqa: E731
    lines = [
        BEGIN,
        "",
        f"Generated {when} at commit `{commit}` on {os.cpu_count()} cores by `python -m scripts.reliability_figures`"
        f"{' --quick' if quick else ''}: `{summary}` in {seconds:.0f} s.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| fault-matrix runs (3 jobs each, every job a task retried at most twice) | {f['fault_runs']} ({f['jobs_imported_under_faults']} job imports) |",
        f"| faults injected | {f['faults_injected']} |",
        f"| faults survived (in runs that ended exactly on the oracle's budget) | {f['faults_survived']} |",
        f"| runs that converged | {ok(f['fault_runs_converged'], f['fault_runs'])} |",
        f"| client retries / task retries / writes with an unknown outcome re-read | {f['client_retries']} / {f['task_retries']} / {f['ambiguous_writes']} |",
        f"| processes killed (SIGKILL) mid-load, then rerun to convergence | {ok(f['crash_runs_converged'], f['crash_runs'])} |",
        f"| Spectrum faults ending in a clear error naming the job, nothing written to Procore | {ok(f['spectrum_faults_clear'], f['spectrum_faults'])} |",
        f"| bad inputs tried / handled as specified | {f['bad_inputs']} / {f['bad_inputs_as_expected']} |",
        f"| look-alike job numbers and mixed-up load inputs kept apart (nothing written into another project) "
        f"| {f['identity_cases_ok']} of {f['identity_cases']} |",
        f"| concurrent runs of one project that wrote at the same time | {f['concurrency_overlaps']} of {f['concurrency_runs']} |",
        f"| budget lines checked against the oracle | {f['lines_checked']} |",
        f"| **lines lost** (missing or wrong amount) | **{f['lines_lost']}** |",
        f"| **duplicates** (a second line for one cost code / cost type) | **{f['duplicates']}** |",
        f"| lines that should not be there | {f['extra_lines']} |",
        f"| client secret or token found in a log record or exception | {f['secret_leaks']} |",
        "",
        "Fault matrix, by scenario:",
        "",
        "| scenario | runs | converged | faults injected | client retries | task retries | ambiguous writes | lines lost | duplicates |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in f["scenarios"]:
        lines.append(f"| {row['scenario']} | {row['runs']} | {row['converged']} | {_injected_text(row)} | {row['client_retries']} | "
                     f"{row['task_retries']} | {row['ambiguous_writes']} | {row['lost']} | {row['duplicates']} |")
    lines += ["", "Crashes:", "", "| case | lines expected | state at the kill | converged | lines lost | duplicates |", "|---|---|---|---|---|---|"]
    for c in f["crashes"]:
        state = f"{c['lines_at_kill']} lines in Procore" if "lines_at_kill" in c else f"{c.get('deletes_at_kill', '?')} deletes done"
        lines.append(f"| {c['case']} | {c['lines_expected']} | {state} | {c['converged']} | {c['lines_lost']} | {c['duplicates']} |")
    lines += ["", "Spectrum faults:", "", "| fault | clear error | Procore writes | retry imported |", "|---|---|---|---|"]
    for s in f["spectrum"]:
        recovered = {True: "yes", None: "n/a (connection)", False: "no"}[s["recovered"]]
        lines.append(f"| {s['case']} | {'yes' if s['clear_error'] else 'NO'} | {s['procore_writes']} | {recovered} |")
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(f["bad_input_outcomes"].items()))
    reasons = ", ".join(f"`{k}` {v}" for k, v in sorted(f["bad_input_reasons"].items()))
    lines += ["", f"Bad inputs by outcome: {outcomes}. Reasons given (rows quarantined, jobs blocked): {reasons}.", "", END]
    return "\n".join(lines)


def write_doc(block: str) -> None:
    text = DOC.read_text(encoding="utf-8") if DOC.is_file() else f"# Reliability\n\n{BEGIN}\n{END}\n"
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < 0:
        text = text.rstrip() + "\n\n" + block + "\n"
    else:
        text = text[:start] + block + text[end + len(END):]
    DOC.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="leave out the slow tests")
    parser.add_argument("--no-write", action="store_true", help="print the figures, leave docs/reliability.md alone")
    parser.add_argument("--records", type=Path, help="tabulate this records file instead of running the tests")
    args = parser.parse_args(argv)
    if args.records:
        code, summary, seconds = 0, f"records from {args.records.name}", 0.0
        rows = load(args.records)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            records = Path(tmp) / "records.jsonl"
            code, summary, seconds = run_tests(records, args.quick, extra)
            rows = load(records)
    block = render(figures(rows), summary, seconds, args.quick)
    print(block)
    if not args.no_write:
        write_doc(block)
        print(f"\nwrote {DOC.relative_to(ROOT)}")
    f = figures(rows)
    if code != 0 or f["lines_lost"] or f["duplicates"]:
        print("\nRELIABILITY CHECKS FAILED: see above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
