"""Time the scale profile into SQLite: ``python -m standins.spectrum_sample.bench_generate``.

Defaults: 1,000 jobs x 1,000 lines (1M phase rows) into var/bench/spectrum_scale.db, with the manifest
and the Procore fixture, then the row counts are read back through the SQLite3 ODBC driver.
``--no-manifest`` leaves the manifest out (it is large at this size: about 0.4 GB).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from .generate import DEFAULT_SEED, Dataset
from .load import build, count_rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m standins.spectrum_sample.bench_generate", description=__doc__)
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--lines", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--dir", default=os.path.join("var", "bench"))
    ap.add_argument("--no-manifest", action="store_true")
    args = ap.parse_args(argv)

    os.makedirs(args.dir, exist_ok=True)
    db = os.path.join(args.dir, "spectrum_scale.db")
    odbc = f"DRIVER={{SQLite3}};Database={db}"
    ds = Dataset("scale", args.seed, jobs=args.jobs, lines=args.lines)

    t0 = time.perf_counter()
    rows = 0
    for bundle in ds.iter_jobs():  # generation + oracle only, no output
        rows += sum(len(r) for r in bundle.rows.values())
    gen = time.perf_counter() - t0
    print(f"generate only:  {rows:,} rows in {gen:.1f} s ({rows / gen:,.0f} rows/s)", flush=True)

    manifest = None if args.no_manifest else os.path.join(args.dir, "spectrum_scale_manifest.json")
    stats = build(ds, odbc=odbc, manifest_path=manifest,
                  fixture_path=os.path.join(args.dir, "spectrum_scale_procore_fixture.json"),
                  progress=lambda m: print(f"  {m}", flush=True))
    print(f"build (SQLite{' + manifest' if manifest else ''} + fixture): {stats.rows:,} rows in "
          f"{stats.seconds:.1f} s ({stats.rows / stats.seconds:,.0f} rows/s)", flush=True)
    t1 = time.perf_counter()
    got = count_rows(odbc)
    print(f"count through ODBC: {time.perf_counter() - t1:.1f} s, match={got == stats.counts}")
    sizes = {p: os.path.getsize(p) for p in (db, manifest) if p}
    for p, n in sizes.items():
        print(f"  {p}: {n / 1e6:,.0f} MB")
    for t, n in stats.counts.items():
        print(f"  {t}: {n:,}")
    return 0 if got == stats.counts else 1


if __name__ == "__main__":
    sys.exit(main())
