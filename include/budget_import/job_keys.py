"""Names derived from a job, one-to-one with (company code, job number): its report folder, status
file, lock and hand-off all use `job_key`. Standard library only (the UI plugin imports it too).

A job number is kept as it reads where it can be ([A-Za-z0-9.-]); every other character becomes `~`
and the two hex digits of each of its UTF-8 bytes (`77 01` -> `77~2001`, `77/01` -> `77~2F01`,
`77_01` -> `77~5F01`), and so does a leading dot. A part too long for any Spectrum job is named `~~`
and its SHA-256 (such a job can only be a mistyped request, which then names its own status file). `_` joins company and job and never appears inside a
part, so no two jobs share a key (the old rule turned all three of those into `77_01`).
"""
from __future__ import annotations

import hashlib
import re

_KEEP = re.compile(r"[A-Za-z0-9.-]")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_PART_CHARS = 120  # a job number of Spectrum's 10 characters takes at most 10 x 4 bytes x 3


def path_part(text: str) -> str:
    """The reversible, path-safe form of one part (company code or job number); never empty."""
    if text == "":
        return "~"
    out = []
    for index, char in enumerate(text):
        if _KEEP.fullmatch(char) and not (index == 0 and char == "."):
            out.append(char)
        else:
            out.append("".join(f"~{byte:02X}" for byte in char.encode("utf-8")))
    part = "".join(out)
    if len(part) > MAX_PART_CHARS:  # no such Spectrum job (10 characters at most): named by its digest
        return "~~" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    return part


def from_path_part(part: str) -> str:
    """The text a `path_part` came from (a digest-named over-long part cannot be read back)."""
    if part.startswith("~~"):
        raise ValueError("an over-long part is named by its digest: the text cannot be read back")
    if part == "~":
        return ""
    raw = bytearray()
    index = 0
    while index < len(part):
        if part[index] == "~":
            raw += bytes.fromhex(part[index + 1 : index + 3])
            index += 3
        else:
            raw += part[index].encode("ascii")
            index += 1
    return raw.decode("utf-8")


def job_key(company_code: str, job_number: str) -> str:
    return f"{path_part(company_code)}_{path_part(job_number)}"


def parse_job_key(key: str) -> tuple[str, str]:
    company, _, job = key.partition("_")
    return from_path_part(company), from_path_part(job)


def run_part(run_id: str) -> str:
    """A run id as one folder name (Airflow's run ids are unique and plain; this only keeps it in its folder)."""
    cleaned = _UNSAFE.sub("_", run_id.strip()).strip("._") or "_"
    return cleaned[:80]
