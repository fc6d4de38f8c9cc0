"""How long run folders are kept: reports are evidence (what was imported, the snapshot to restore from),
but a nightly of 1,000 jobs writes a folder a night. A run folder is removed when it is older than
BUDGET_IMPORT_KEEP_DAYS (default 90) *and* not among the newest BUDGET_IMPORT_KEEP_RUNS (default 30) —
and never while a job's status names it (the Budgets page links the job's latest run there, and its
snapshot is the one a restore would use). 0 for either setting turns that limit off.

Status and history live in the state database (job_status_store), not in run folders: a job's status row
is never pruned, and its run history rows are kept too (one short row per job and run, the audit trail of
every run's figures); the job page shows a run whose folder is gone without a link.
Statuses a deployment kept as files before the state database are adopted first (legacy_status).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from include.budget_import import job_status_store, storage
from include.budget_import.job_keys import run_part
from include.budget_import.legacy_status import adopt_status_files
from include.budget_import.settings import keep_days, keep_runs
from include.budget_import.storage import Location, StoragePath

log = logging.getLogger(__name__)


@dataclass
class Pruned:
    removed: list[str] = field(default_factory=list)
    kept_for_status: list[str] = field(default_factory=list)


def runs_named_by_status(root: StoragePath) -> set[str]:
    """The run folders that the jobs' latest statuses point at."""
    return {run_part(run_id) for run_id in job_status_store.status_run_ids(root=root)}


def prune_runs(root: Location, *, now: float | None = None, days: int | None = None, runs: int | None = None,
               current_run: str | None = None) -> Pruned:
    """Remove the run folders past retention (see the module docstring); returns what it did."""
    days = keep_days() if days is None else days
    runs = keep_runs() if runs is None else runs
    root = storage.storage_path(root)
    folder = root / "runs"
    if days <= 0 and runs <= 0:
        return Pruned()
    storage.forget_listings(folder)  # an object store's client may hold an older listing
    now = time.time() if now is None else now
    # a run folder's time: its mtime locally; on an object store the newest file in it (storage.modified)
    dated = [(e.path, storage.modified(e.path) or now) for e in storage.entries(folder) if e.is_dir and not e.name.startswith(".")]
    if not dated:
        return Pruned()
    adopt_status_files(root)  # a deployment upgraded from status files: their runs are protected too
    protected = runs_named_by_status(root) | ({run_part(current_run)} if current_run else set())
    done = Pruned()
    for path in past_retention(dated, now, days, runs):
        if path.name in protected:
            done.kept_for_status.append(path.name)
            continue
        storage.remove_tree(path)
        done.removed.append(path.name)
    if done.removed:
        log.info("retention: removed %d run folder(s) (older than %d days and beyond the newest %d runs): %s",
                 len(done.removed), days, runs, ", ".join(done.removed[:10]) + (" ..." if len(done.removed) > 10 else ""))
    return done


def past_retention(dated: list[tuple[StoragePath, float]], now: float, days: int, runs: int) -> list[StoragePath]:
    """The items (path, time) past every limit that is on: older than `days` and beyond the newest `runs`
    (equal times, as an object store keeps seconds, ranked by name), oldest last."""
    ranked = sorted(dated, key=lambda pair: (pair[1], pair[0].name), reverse=True)
    past = []
    for rank, (path, mtime) in enumerate(ranked):
        limits = [now - mtime > days * 86400] if days > 0 else []
        limits += [rank >= runs] if runs > 0 else []
        if limits and all(limits):
            past.append(path)
    return past


def prune_preflight_copies(folder: StoragePath, *, now: float | None = None, days: int | None = None, runs: int | None = None) -> list[str]:
    """The preflight's copy per run (`preflight/runs/<run>.json`) under the same limits as run folders;
    `latest.json` is another folder's and is never touched. Returns the names removed."""
    days = keep_days() if days is None else days
    runs = keep_runs() if runs is None else runs
    if days <= 0 and runs <= 0:
        return []
    storage.forget_listings(folder)
    now = time.time() if now is None else now
    dated = [(e.path, e.mtime if e.mtime is not None else now) for e in storage.entries(folder) if not e.is_dir and e.name.endswith(".json")]
    removed = []
    for path in past_retention(dated, now, days, runs):
        storage.remove_file(path)
        removed.append(path.name)
    if removed:
        log.info("retention: removed %d preflight report copies (older than %d days and beyond the newest %d)", len(removed), days, runs)
    return removed
