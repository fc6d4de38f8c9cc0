"""Where report files live: a local folder or an object store (S3, GCS, ...), one API for both.

BUDGET_IMPORT_REPORTS_DIR may be a local path (the default) or a URL such as `s3://bucket/prefix`, with
BUDGET_IMPORT_REPORTS_CONN_ID naming the Airflow connection of the storage (settings.reports_root). A URL
is an Airflow `ObjectStoragePath` (a UPath; the filesystem of its scheme is registered by its provider:
`s3://` apache-airflow-providers-amazon with s3fs, `gs://` the Google provider with gcsfs); a local root
stays a `pathlib.Path` (`file://` too), which the lock and state-DB code open as a file system path (an
ObjectStoragePath has no `__fspath__`). Every helper here takes either.

Writes are atomic either way: a local file is written beside its target and renamed over it (a reader
never sees half a report); an object store's PUT is atomic already. Stdlib and Airflow only: the UI
plugin (api-server) reads the reports through this module.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.sdk import ObjectStoragePath

__all__ = ["Entry", "ObjectStoragePath", "StoragePath", "entries", "forget_listings", "is_local", "local_path", "modified", "read_bytes",
           "is_file", "read_json", "read_text", "remove_tree", "storage_path", "write_bytes", "write_json", "write_text"]

LOCAL_PROTOCOLS = frozenset({"", "file", "local"})

StoragePath = Path | ObjectStoragePath  # a report file or folder: local, or on an object store
Location = str | os.PathLike[str] | ObjectStoragePath


def storage_path(location: Location, conn_id: str | None = None) -> StoragePath:
    """`location` as a reports path: a local path (or `file://` URL) as a pathlib.Path; any other URL
    (`s3://bucket/prefix`) as an ObjectStoragePath read with the Airflow connection `conn_id` (None: the
    filesystem's own credentials chain, e.g. an instance role)."""
    if isinstance(location, ObjectStoragePath):
        return local_path(location) or location
    text = location if isinstance(location, str) else os.fspath(location)
    if text.startswith("file://"):
        return Path(text.removeprefix("file://"))
    if "://" not in text:
        return Path(text)
    return ObjectStoragePath(text, conn_id=conn_id) if conn_id else ObjectStoragePath(text)


def local_path(path: Location) -> Path | None:
    """The local file system path of `path`, or None when it is on an object store."""
    if not isinstance(path, ObjectStoragePath):
        return Path(path)
    if path.protocol in LOCAL_PROTOCOLS:
        return Path(path.path)
    return None


def is_local(path: Location) -> bool:
    return local_path(path) is not None


def _remote(path: StoragePath) -> ObjectStoragePath | None:
    return path if isinstance(path, ObjectStoragePath) and path.protocol not in LOCAL_PROTOCOLS else None


# --- writing -------------------------------------------------------------------------------------
def write_bytes(path: StoragePath, data: bytes) -> StoragePath:
    """Write `data` to `path` atomically (local: a temporary file beside it, renamed over it)."""
    remote = _remote(path)
    if remote is not None:
        remote.write_bytes(data)  # one PUT: the object is the old one or the new one, never half
        return path
    local = local_path(path)
    assert local is not None
    local.parent.mkdir(parents=True, exist_ok=True)
    tmp = local.with_name(f".{local.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")  # unique: concurrent writers never share it
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask decides, as for any file
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, local)  # atomic: a reader never sees half a report
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def write_text(path: StoragePath, text: str) -> StoragePath:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: StoragePath, payload: Any, *, compact: bool = False) -> StoragePath:
    """Indented JSON for people, or compact (`compact=True`: json's C encoder, for reports with a line per
    budget line: indenting goes through the pure-Python encoder, seconds for a million lines)."""
    if compact:
        text = json.dumps(payload, ensure_ascii=False, default=str, separators=(",", ":"))
    else:
        text = json.dumps(payload, indent=2, ensure_ascii=False, default=str)
    return write_text(path, text)


# --- reading -------------------------------------------------------------------------------------
def read_bytes(path: StoragePath) -> bytes:
    return path.read_bytes()


def read_text(path: StoragePath) -> str:
    return read_bytes(path).decode("utf-8")


def read_json(path: StoragePath) -> Any:
    return json.loads(read_text(path))


def is_file(path: StoragePath) -> bool:
    return path.is_file()


# --- folders -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One item of a folder: a file, or a folder (on an object store: a common prefix)."""

    path: StoragePath
    name: str
    is_dir: bool
    size: int
    mtime: float | None  # seconds since the epoch; None for an object store's folder (a prefix has no time)


def entries(folder: StoragePath) -> list[Entry]:
    """What `folder` holds (one listing request on an object store); [] when it does not exist."""
    found: list[Entry] = []
    remote = _remote(folder)
    local = local_path(folder)
    if remote is None and local is not None:
        try:
            with os.scandir(local) as items:
                for item in items:
                    try:
                        is_dir = item.is_dir()
                        stat = item.stat()
                    except OSError:
                        continue
                    found.append(Entry(folder / item.name, item.name, is_dir, 0 if is_dir else stat.st_size, stat.st_mtime))
        except OSError:
            return []
        return found
    assert remote is not None
    try:
        listed = remote.fs.ls(remote.path, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return []
    prefix = remote.path.rstrip("/")
    for info in listed:
        name = str(info.get("name", "")).rstrip("/")
        if not name or name == prefix:
            continue
        base = name.rsplit("/", 1)[-1]
        is_dir = info.get("type") == "directory"
        found.append(Entry(remote / base, base, is_dir, int(info.get("size") or 0), None if is_dir else _info_mtime(info)))
    return found


def modified(folder: StoragePath) -> float | None:
    """When a folder was last written. Local: its mtime (as the file system keeps it). On an object
    store a prefix has no time: the newest of the files directly in it (a run's summary.json), else the
    newest file anywhere below it (a run still under way)."""
    remote = _remote(folder)
    if remote is None:
        try:
            return folder.stat().st_mtime
        except OSError:
            return None
    times = [e.mtime for e in entries(remote) if not e.is_dir and e.mtime is not None]
    if not times:
        try:
            below = remote.fs.find(remote.path, detail=True)
        except FileNotFoundError:
            below = {}
        times = [t for t in (_info_mtime(info) for info in below.values()) if t is not None]
    return max(times) if times else None


def remove_tree(folder: StoragePath) -> None:
    """Remove a folder and everything in it (on an object store: every object under the prefix)."""
    remote, local = _remote(folder), local_path(folder)
    if remote is None and local is not None:
        shutil.rmtree(local, ignore_errors=True)
        return
    assert remote is not None
    with contextlib.suppress(FileNotFoundError):
        remote.fs.rm(remote.path, recursive=True)


def remove_file(path: StoragePath) -> None:
    """Remove one file (local or an object); nothing when it is already gone."""
    remote, local = _remote(path), local_path(path)
    if remote is None and local is not None:
        local.unlink(missing_ok=True)
        return
    assert remote is not None
    with contextlib.suppress(FileNotFoundError):
        remote.fs.rm(remote.path)


def forget_listings(path: StoragePath) -> None:
    """Drop the object store client's cached listings under `path`: s3fs and gcsfs keep every listing
    for the life of the process while other workers write (the api-server would never see a new run).
    Nothing to do locally."""
    remote = _remote(path)
    if remote is not None:
        with contextlib.suppress(Exception):  # a filesystem without a listings cache
            remote.fs.invalidate_cache(remote.path)


def _info_mtime(info: dict[str, Any]) -> float | None:
    """An object's time from its listing entry (s3fs: LastModified; gcsfs: updated; others: mtime)."""
    for key in ("LastModified", "last_modified", "mtime", "updated", "created"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str) and value:
            with contextlib.suppress(ValueError):
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None
