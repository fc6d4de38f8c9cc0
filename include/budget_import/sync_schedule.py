"""How often each Spectrum company's budgets sync, as Procore's ERP integration offers it: hourly, every
4 hours, daily, or never, in the company's own time zone (BUDGET_IMPORT_SYNC, settings.sync_setting).

The scheduled DAG (`spectrum_budget_nightly`) runs once an hour; each run imports only the companies due
in that hour. Which companies are due is decided here, from the run's logical date (a UTC instant): the
run covers the UTC hour that holds it, and a company is due when one of its sync times falls in that hour.

- `daily@HH:MM` (default 02:30): once a day, at that local time.
- `every_4_hours[@HH:MM]` (default 00:00): at HH:MM local and every 4 hours from it (00:00, 04:00, ... 20:00).
- `hourly`: every run.
- `never`: no scheduled import (a manual import still works); the run's report lists it as skipped.

Time zones (zoneinfo names, e.g. America/Chicago) follow daylight saving time: a local time that does not
exist on the day clocks go forward (02:30 in Chicago in March) runs at the first hour after the gap
(03:30 CDT, one hour later in wall-clock terms, the same instant in UTC terms as 02:30 CST); a local time
that happens twice when clocks go back (01:30) runs once, at its first occurrence.

Setting formats (both accepted):
  `01=daily@02:30 America/Chicago,02=every_4_hours America/Denver,03=never,*=daily@03:00 UTC`
  `{"01": "daily@02:30 America/Chicago", "02": {"frequency": "every_4_hours", "timezone": "America/Denver"}}`
`*` is the schedule of every company not named. Stdlib only.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FREQUENCIES = ("hourly", "every_4_hours", "daily", "never")
DEFAULT_TIME = time(2, 30)  # the nightly's time before sync frequencies (02:30 UTC)
DEFAULT_ZONE = "UTC"
ANY_COMPANY = "*"
_HOUR = timedelta(hours=1)
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class SyncSettingError(ValueError):
    """BUDGET_IMPORT_SYNC cannot be read: the message names the entry and what is accepted."""


@dataclass(frozen=True)
class CompanySchedule:
    frequency: str  # one of FREQUENCIES
    at: time = DEFAULT_TIME  # daily: the time; every_4_hours: the first of the day's times
    zone: str = DEFAULT_ZONE

    def describe(self) -> str:
        if self.frequency in ("hourly", "never"):
            return self.frequency
        return f"{self.frequency}@{self.at:%H:%M} {self.zone}"

    def local_times(self) -> list[time]:
        if self.frequency == "daily":
            return [self.at]
        if self.frequency == "every_4_hours":
            return [time((self.at.hour + 4 * n) % 24, self.at.minute) for n in range(6)]
        return []

    def is_due(self, instant: datetime) -> bool:
        """Whether a run at `instant` (aware; its UTC hour is the run's hour) imports this company."""
        if self.frequency == "hourly":
            return True
        if self.frequency == "never":
            return False
        start = _utc_hour(instant)
        end = start + _HOUR
        tz = ZoneInfo(self.zone)
        # the local dates the run's hour touches (an hour may straddle local midnight)
        days = {start.astimezone(tz).date(), (end - timedelta(microseconds=1)).astimezone(tz).date()}
        return any(start <= _occurrence(day, at, tz) < end for day in days for at in self.local_times())


def _utc_hour(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError(f"the run's instant must be time-zone aware, not {instant!r}")
    return instant.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _occurrence(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local `day` `at` in `tz`: its first occurrence when clocks go back (fold=0);
    a time in the spring-forward gap maps, with fold=0, to the same UTC instant with the offset before the
    change (02:30 CST = 08:30 UTC = 03:30 CDT), that is the first hour after the gap."""
    return datetime.combine(day, at, tzinfo=tz).replace(fold=0).astimezone(UTC)


def parse_schedule(text: str, where: str = "") -> CompanySchedule:
    """`daily@02:30 America/Chicago`, `every_4_hours America/Denver`, `hourly`, `never`."""
    label = f"{where}: " if where else ""
    parts = text.strip().split()
    if not parts or len(parts) > 2:
        raise SyncSettingError(f"{label}{text!r} is not '<frequency>[@HH:MM] [time zone]' (frequencies: {', '.join(FREQUENCIES)})")
    frequency, _, at_text = parts[0].partition("@")
    frequency = frequency.strip().lower().replace("-", "_")
    if frequency in ("4_hours", "every_4h", "4h"):
        frequency = "every_4_hours"
    if frequency not in FREQUENCIES:
        raise SyncSettingError(f"{label}frequency {parts[0]!r} is not one of {', '.join(FREQUENCIES)}")
    at = DEFAULT_TIME if frequency == "daily" else time(0, 0)
    if at_text:
        match = _TIME.match(at_text)
        if not match:
            raise SyncSettingError(f"{label}time {at_text!r} is not HH:MM (24-hour)")
        at = time(int(match.group(1)), int(match.group(2)))
    zone = parts[1] if len(parts) == 2 else DEFAULT_ZONE
    return CompanySchedule(frequency, at, _zone(zone, label))


def _zone(name: str, label: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SyncSettingError(f"{label}time zone {name!r} is not a zoneinfo name (e.g. America/Chicago, UTC)") from None
    return name


def _from_mapping(value: Any, where: str) -> CompanySchedule:
    if isinstance(value, str):
        return parse_schedule(value, where)
    if isinstance(value, dict):
        unknown = set(value) - {"frequency", "at", "timezone"}
        if unknown or "frequency" not in value:
            raise SyncSettingError(f"{where}: give 'frequency' (and optionally 'at', 'timezone'), not {sorted(value)}")
        text = str(value["frequency"]) + (f"@{value['at']}" if value.get("at") else "")
        return parse_schedule(f"{text} {value.get('timezone') or DEFAULT_ZONE}", where)
    raise SyncSettingError(f"{where}: {value!r} is neither a schedule text nor an object")


@dataclass(frozen=True)
class SyncSchedules:
    """Every company's schedule: the named ones, and the default for the rest."""

    companies: dict[str, CompanySchedule]
    default: CompanySchedule

    def for_company(self, company_code: str) -> CompanySchedule:
        return self.companies.get(company_code, self.default)


def parse_sync_setting(raw: str | None, default: CompanySchedule | None = None) -> SyncSchedules:
    """BUDGET_IMPORT_SYNC as SyncSchedules; empty: every company on `default` (daily at 02:30 UTC)."""
    fallback = default or CompanySchedule("daily", DEFAULT_TIME, DEFAULT_ZONE)
    text = (raw or "").strip()
    if not text:
        return SyncSchedules({}, fallback)
    entries: dict[str, CompanySchedule] = {}
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise SyncSettingError(f"BUDGET_IMPORT_SYNC is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise SyncSettingError("BUDGET_IMPORT_SYNC as JSON must be an object of company code -> schedule")
        for code, value in data.items():
            entries[str(code).strip()] = _from_mapping(value, f"BUDGET_IMPORT_SYNC company {code!r}")
    else:
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            code, eq, spec = part.partition("=")
            if not eq or not code.strip():
                raise SyncSettingError(f"BUDGET_IMPORT_SYNC entry {part!r} is not '<company>=<schedule>' (e.g. 01=daily@02:30 America/Chicago)")
            entries[code.strip()] = parse_schedule(spec, f"BUDGET_IMPORT_SYNC company {code.strip()!r}")
    default_schedule = entries.pop(ANY_COMPANY, fallback)
    return SyncSchedules(entries, default_schedule)


@dataclass(frozen=True)
class CompanySelection:
    """Which of a run's companies it imports, and why the others are left out."""

    due: list[str]
    not_due: list[str]  # their sync time is another hour: left for that run
    never: list[str]  # schedule `never`: skipped by their schedule, listed in the run's report

    def report(self, schedules: SyncSchedules, instant: datetime | None, mode: str) -> dict[str, Any]:
        return {
            "mode": mode,
            "instant": instant.astimezone(UTC).isoformat() if instant else None,
            "due": self.due,
            "not_due": self.not_due,
            "skipped_by_schedule": [{"company_code": c, "schedule": schedules.for_company(c).describe()} for c in self.never],
            "schedules": {c: schedules.for_company(c).describe() for c in (*self.due, *self.not_due, *self.never)},
        }


def select_companies(codes: list[str], schedules: SyncSchedules, instant: datetime | None, *, due_only: bool) -> CompanySelection:
    """`due_only` (a scheduled run): the companies due at `instant`; else every company (a manual run)."""
    if not due_only:
        return CompanySelection(list(codes), [], [])
    if instant is None:
        raise ValueError("a run that imports the companies due needs its logical date")
    due, not_due, never = [], [], []
    for code in codes:
        schedule = schedules.for_company(code)
        if schedule.frequency == "never":
            never.append(code)
        elif schedule.is_due(instant):
            due.append(code)
        else:
            not_due.append(code)
    return CompanySelection(due, not_due, never)


def configured_schedules() -> SyncSchedules:
    """BUDGET_IMPORT_SYNC as set; unset: every company daily at 02:30 UTC, or, when the site keeps its own
    cron (SPECTRUM_BUDGET_NIGHTLY_SCHEDULE), every company on each of that cron's runs (as before)."""
    from include.budget_import.settings import legacy_nightly_schedule, sync_setting

    raw = sync_setting()
    default = CompanySchedule("hourly") if legacy_nightly_schedule() and not raw else None
    return parse_sync_setting(raw, default)
