"""Job statuses kept as files before the state database (`status/<job key>.json` under the reports root,
until job_status_store took them over): the first run after an upgrade adopts each into the store, so the
Budgets page still lists the job and retention still keeps the run folder its status names (the snapshot a
restore of it would use). A job the store already has a status for keeps that one: it is newer. The files
stay where they are (nothing is lost); a marker file says they were adopted and are no longer read.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime

from include.budget_import import job_status_store, storage
from include.budget_import.storage import Location

log = logging.getLogger(__name__)

LEGACY_FOLDER = "status"
ADOPTED_MARKER = "ADOPTED_INTO_STATE_DB.txt"


def adopt_status_files(root: Location) -> int:
    """Adopt the folder's statuses into the store once; returns how many became a job's status. A file
    that is unreadable or names no job is logged and left."""
    root = storage.storage_path(root)
    folder = root / LEGACY_FOLDER
    listed = storage.entries(folder)
    if not listed or any(entry.name == ADOPTED_MARKER for entry in listed):
        return 0
    adopted = kept = 0
    for entry in sorted(listed, key=lambda e: e.name):
        if entry.is_dir or not entry.name.endswith(".json"):
            continue
        try:
            payload = storage.read_json(entry.path)
        except (OSError, ValueError) as exc:
            log.warning("status file %s not adopted: %s", entry.name, exc)
            continue
        if not isinstance(payload, dict) or not payload.get("company_code") or not payload.get("job_number"):
            log.warning("status file %s not adopted: it names no company code and job number", entry.name)
            continue
        if job_status_store.read_status(str(payload["company_code"]), str(payload["job_number"]), root=root):
            kept += 1
            continue
        job_status_store.record_status(payload, root=root)
        adopted += 1
    storage.write_text(folder / ADOPTED_MARKER,
                       f"{adopted} job statuses adopted into the state database on {datetime.now(UTC).isoformat(timespec='seconds')} "
                       f"({kept} jobs already had a newer one there). The files in this folder are no longer read.\n")
    log.info("adopted %d job statuses from %s into the state database (%d kept their newer status)", adopted, folder, kept)
    return adopted
