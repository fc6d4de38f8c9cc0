"""Extraction figures: ``python -m scripts.bench_extract`` (prints figures; it is not a test).

Builds the scale profile (default 20 jobs x 1,000 lines) into SQLite (a temporary file) and PostgreSQL
(a scratch database, dropped afterwards), then compares, over the same rows, job by job:

* **bare**: ``cursor.execute(<budget_lines.sql>, params)`` + ``cursor.fetchall()`` with pyodbc: the
  driver's own speed, with nothing done to the rows;
* **ours**: ``spectrum_source.iter_budget_lines`` (fetchmany chunks, keys trimmed, amounts made exact
  Decimals).

Speed: rounds run in pairs, bare and ours back to back (alternating which goes first), so the two rounds
of a pair see the same load on the machine; the verdict is the median of the pairs' ratios (best rounds
and client CPU time are printed too). Target: ours within 1.5x of bare.

Memory: each variant runs once more in a fresh Python process, which reports its Python heap peak
(tracemalloc) and its resident-set growth (ru_maxrss after minus RSS before: what the ODBC driver holds
in C memory shows only here). A second dataset, one job of ``--big-job-lines`` lines read with
``--big-chunk`` rows per chunk, shows what streaming bounds and what it does not: psqlODBC holds the whole
result set unless the connection string asks it to use a server cursor (``UseDeclareFetch=1``).

Options: ``--jobs --lines --repeat --chunk-size --big-job-lines (0: skip) --big-chunk --engines``.
Server: ``SPECTRUM_SAMPLE_PG_ODBC`` (default PostgreSQL Unicode on 127.0.0.1:5432, user postgres).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("SPECTRUM_SAMPLE_PG_ODBC",
                           "DRIVER={PostgreSQL Unicode};Server=127.0.0.1;Port=5432;Uid=postgres;Pwd=;")
MARIADB_SERVER = os.environ.get("SPECTRUM_SAMPLE_MARIADB_ODBC",
                                "DRIVER={MariaDB Unicode};Server=127.0.0.1;Port=3306;User=root;Password=;")
TARGET_RATIO = 1.5
# psqlODBC: read the result through a server-side cursor, `Fetch` rows at a time, instead of all at once.
PG_STREAMING = "UseDeclareFetch=1;Fetch=1000;"


# --------------------------------------------------------------------------- what is measured
def _jobs(conn) -> list:
    from include.budget_import.spectrum_source import list_jobs
    from standins.spectrum_sample.catalog import COMPANIES

    return [job for company in COMPANIES for job in list_jobs(conn, company.code)]


def run_bare(conn, jobs, chunk_size: int) -> int:
    """The same statement and parameters as iter_budget_lines, fetchall(), nothing done to the rows (the
    companies' forms of job numbers in their transactions read beforehand, outside the figure)."""
    from include.budget_import.spectrum_source import budget_line_parameters, transaction_job_numbers
    from include.budget_import.sql_files import load_sql

    sql = load_sql("budget_lines")
    forms = {code: transaction_job_numbers(conn, code) for code in sorted({job.company_code for job in jobs})}
    rows = 0
    for job in jobs:
        parameters = budget_line_parameters(job, forms[job.company_code])
        cursor = conn.cursor()
        cursor.execute(sql, parameters)
        rows += len(cursor.fetchall())
        cursor.close()
    return rows


def run_ours(conn, jobs, chunk_size: int) -> int:
    from include.budget_import.spectrum_source import iter_budget_lines, transaction_job_numbers

    forms = {code: transaction_job_numbers(conn, code) for code in sorted({job.company_code for job in jobs})}
    rows = 0
    for job in jobs:
        for chunk in iter_budget_lines(conn, job, chunk_size=chunk_size, transactions=forms[job.company_code]):
            rows += len(chunk)
    return rows


VARIANTS = {"bare": run_bare, "ours": run_ours}


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> bool:
    """Reset the kernel's resident-set high-water mark (VmHWM) of this process (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def child(variant: str, odbc: str, chunk_size: int) -> dict:
    """One variant in this (fresh) process: resident-set growth (a plain run), then Python heap peak (a run
    under tracemalloc, which costs memory of its own and so is measured apart)."""
    import pyodbc

    conn = pyodbc.connect(odbc)
    jobs = _jobs(conn)
    VARIANTS[variant](conn, jobs[:1], chunk_size)  # warm up: driver and module state allocated once
    rss_before = _status_kib("VmRSS")
    exact = _reset_peak_rss()
    rows = VARIANTS[variant](conn, jobs, chunk_size)
    rss_peak = _status_kib("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    VARIANTS[variant](conn, jobs, chunk_size)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    conn.close()
    return {"rows": rows, "py_peak_mib": peak / 2**20, "rss_growth_mib": max(0, rss_peak - rss_before) / 1024}


def measure_memory(variant: str, odbc: str, chunk_size: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "scripts.bench_extract", "--child", variant, "--odbc", odbc,
         "--chunk-size", str(chunk_size)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_speed(odbc: str, repeat: int, chunk_size: int) -> dict:
    """``repeat`` pairs of rounds, bare and ours back to back (alternating which goes first), so both
    rounds of a pair see the same load on the machine; the verdict uses the median of the pairs' ratios."""
    import pyodbc

    conn = pyodbc.connect(odbc)
    try:
        jobs = _jobs(conn)
        times: dict[str, list[float]] = {v: [] for v in VARIANTS}
        cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
        rows: dict[str, int] = {}
        for v in VARIANTS:  # warm-up round (caches, plans), not counted
            VARIANTS[v](conn, jobs, chunk_size)
        order = list(VARIANTS)
        for _ in range(repeat):
            for v in order:
                t0, c0 = time.perf_counter(), time.process_time()
                rows[v] = VARIANTS[v](conn, jobs, chunk_size)
                times[v].append(time.perf_counter() - t0)
                cpu[v].append(time.process_time() - c0)
            order.reverse()
        assert rows["bare"] == rows["ours"], rows
        pairs = [o / b for o, b in zip(times["ours"], times["bare"], strict=True)]
        cpu_pairs = [o / b for o, b in zip(cpu["ours"], cpu["bare"], strict=True)]
        return {"jobs": len(jobs), "rows": rows["ours"],
                "best": {v: min(t) for v, t in times.items()},
                "median": {v: statistics.median(t) for v, t in times.items()},
                "cpu_best": {v: min(t) for v, t in cpu.items()},
                "ratio": statistics.median(pairs), "ratio_spread": (min(pairs), max(pairs)),
                "cpu_ratio": statistics.median(cpu_pairs)}
    finally:
        conn.close()


# --------------------------------------------------------------------------- databases
@contextmanager
def database(engine: str, tag: str, folder: Path):
    """A new, empty database for ``engine``; servers' scratch databases are dropped afterwards."""
    import pyodbc

    if engine == "sqlite":
        yield f"DRIVER={{SQLite3}};Database={folder / f'{tag}.db'}"
        return
    name = f"bench_extract_{tag}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    server = PG_SERVER if engine == "postgresql" else MARIADB_SERVER
    admin = pyodbc.connect(server + "Database=test;", autocommit=True, timeout=5)
    if engine == "postgresql":
        admin.execute(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
    else:
        admin.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    try:
        yield server + f"Database={name};"
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if engine == "postgresql" else ""))
        admin.close()


def load(odbc: str, jobs: int, lines: int) -> tuple[int, float]:
    from standins.spectrum_sample.generate import Dataset
    from standins.spectrum_sample.load import build

    stats = build(Dataset("scale", jobs=jobs, lines=lines), odbc=odbc)
    return stats.rows, stats.seconds


# --------------------------------------------------------------------------- report
def _print_speed(engine: str, s: dict) -> float:
    for v in VARIANTS:
        print(f"  {v:<5} best {s['best'][v]:6.3f} s  {s['rows'] / s['best'][v]:>9,.0f} rows/s   "
              f"median {s['median'][v]:6.3f} s  {s['rows'] / s['median'][v]:>9,.0f} rows/s   "
              f"client CPU best {s['cpu_best'][v]:6.3f} s")
    ratio = s["ratio"]
    low, high = s["ratio_spread"]
    verdict = "within" if ratio <= TARGET_RATIO else "OVER"
    print(f"  ratio ours/bare: {ratio:.2f}x wall (median of paired rounds, {low:.2f}-{high:.2f}), "
          f"{s['cpu_ratio']:.2f}x client CPU; {verdict} the {TARGET_RATIO}x target")
    return ratio


def _print_memory(label: str, m: dict) -> None:
    print(f"  {label:<34} Python heap peak {m['py_peak_mib']:7.2f} MiB   RSS growth {m['rss_growth_mib']:7.1f} MiB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m scripts.bench_extract", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--lines", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=21)
    ap.add_argument("--chunk-size", type=int, default=10_000, help="iter_budget_lines chunk (production default)")
    ap.add_argument("--big-job-lines", type=int, default=20_000, help="one job this big for the memory part; 0 skips")
    ap.add_argument("--big-chunk", type=int, default=1_000)
    ap.add_argument("--engines", default="sqlite,postgresql", help="comma list of sqlite, postgresql, mariadb")
    ap.add_argument("--child", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    ap.add_argument("--odbc", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        print(json.dumps(child(args.child, args.odbc, args.chunk_size)))
        return 0

    import pyodbc

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    print(f"extraction benchmark: scale {args.jobs} jobs x {args.lines} lines, chunk_size {args.chunk_size}, "
          f"{args.repeat} paired rounds; pyodbc {pyodbc.version}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs")
    ratios = {}
    with tempfile.TemporaryDirectory(prefix="bench_extract_") as tmp:
        for engine in engines:
            with database(engine, "scale", Path(tmp)) as odbc:
                rows, seconds = load(odbc, args.jobs, args.lines)
                print(f"\n[{engine}] built {rows:,} rows in {seconds:.1f} s")
                speed = measure_speed(odbc, args.repeat, args.chunk_size)
                print(f"  {speed['rows']:,} budget lines from {speed['jobs']} jobs")
                ratios[engine] = _print_speed(engine, speed)
                for v in VARIANTS:
                    _print_memory(f"{v} (per job, chunk {args.chunk_size})",
                                  measure_memory(v, odbc, args.chunk_size))
            if args.big_job_lines:
                with database(engine, "bigjob", Path(tmp)) as odbc:
                    load(odbc, 1, args.big_job_lines)
                    print(f"  one job of {args.big_job_lines:,} lines:")
                    _print_memory("bare fetchall", measure_memory("bare", odbc, args.big_chunk))
                    _print_memory(f"ours, chunk {args.big_chunk}", measure_memory("ours", odbc, args.big_chunk))
                    if engine == "postgresql":
                        _print_memory(f"ours, chunk {args.big_chunk}, {PG_STREAMING.split(';')[0]}",
                                      measure_memory("ours", odbc + PG_STREAMING, args.big_chunk))
    print("\nsummary: " + ", ".join(f"{e} {r:.2f}x" for e, r in ratios.items())
          + f" (ours/bare wall time, median of paired rounds; target <= {TARGET_RATIO}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
