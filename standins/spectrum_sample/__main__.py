"""Command line: ``python -m standins.spectrum_sample {ddl,build,sql} ...`` (see README.md)."""
from __future__ import annotations

import argparse
import os
import sys

from . import schema
from .generate import DEFAULT_SEED, PROFILES, Dataset

DDL_DIR = os.path.join(os.path.dirname(__file__), "ddl")


def _dataset(args) -> Dataset:
    return Dataset(args.profile, args.seed, jobs=args.jobs, lines=args.lines, dirty_rate=args.dirty_rate)


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", choices=PROFILES, default="demo")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--jobs", type=int, default=1000, help="scale profile: number of jobs")
    p.add_argument("--lines", type=int, default=1000, help="scale profile: phase rows per job")
    p.add_argument("--dirty-rate", type=float, default=0.02,
                   help="scale profile: share of lines given an awkward case")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m standins.spectrum_sample", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("ddl", help="print the DDL for one dialect, or write all four files")
    p.add_argument("--dialect", choices=schema.DIALECTS, default="tsql")
    p.add_argument("--write-all", metavar="DIR", nargs="?", const=DDL_DIR,
                   help=f"write spectrum_<dialect>.sql for every dialect into DIR (default {DDL_DIR})")

    p = sub.add_parser("build", help="generate a sample into a database, manifest and Procore fixture")
    _data_args(p)
    p.add_argument("--odbc", help='ODBC connection string, e.g. "DRIVER={SQLite3};Database=var/spectrum.db"')
    p.add_argument("--manifest", help="write the oracle manifest (JSON) here")
    p.add_argument("--procore-fixture", help="write the Procore emulator fixture (JSON) here")
    p.add_argument("--no-verify", action="store_true", help="skip the row-count check through ODBC")

    p = sub.add_parser("sql", help="print a SQL script with DDL and INSERTs for the sample (e.g. SQL Server)")
    _data_args(p)
    p.add_argument("--dialect", choices=schema.DIALECTS, default="tsql")
    p.add_argument("--data-only", action="store_true")
    p.add_argument("--output", "-o", help="file to write (default stdout)")

    args = ap.parse_args(argv)
    if args.cmd == "ddl":
        if args.write_all:
            os.makedirs(args.write_all, exist_ok=True)
            for d in schema.DIALECTS:
                path = os.path.join(args.write_all, f"spectrum_{d}.sql")
                with open(path, "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(schema.ddl(d))
                print(path)
        else:
            sys.stdout.write(schema.ddl(args.dialect))
        return 0

    if args.cmd == "sql":
        from .load import dump_sql

        fh = open(args.output, "w", encoding="utf-8", newline="\n") if args.output else sys.stdout
        try:
            if fh is sys.stdout:
                sys.stdout.reconfigure(encoding="utf-8")
            dump_sql(_dataset(args), args.dialect, fh, with_ddl=not args.data_only)
        finally:
            if fh is not sys.stdout:
                fh.close()
        return 0

    from .load import build, count_rows

    if not (args.odbc or args.manifest or args.procore_fixture):
        ap.error("build needs at least one of --odbc, --manifest, --procore-fixture")
    ds = _dataset(args)
    say = lambda msg: print(f"spectrum_sample: {msg}", file=sys.stderr, flush=True)  # noqa: E731
    stats = build(ds, odbc=args.odbc, manifest_path=args.manifest, fixture_path=args.procore_fixture,
                  progress=say)
    say(f"{ds.parameters}: {stats.jobs} jobs, {stats.rows:,} rows in {stats.seconds:.1f} s "
        f"({stats.rows / max(stats.seconds, 1e-9):,.0f} rows/s) -> {stats.dialect}")
    for table, n in stats.counts.items():
        say(f"  {table}: {n:,}")
    if args.odbc and not args.no_verify:
        got = count_rows(args.odbc)
        if got != stats.counts:
            say(f"row counts read back through ODBC differ: {got}")
            return 1
        say("row counts read back through ODBC match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
