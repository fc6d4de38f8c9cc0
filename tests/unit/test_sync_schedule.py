"""Sync frequency: which Spectrum companies a run of the scheduled sync imports at a UTC instant, in each
company's own time zone, across daylight-saving changes (zoneinfo)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from include.budget_import.discovery import companies_to_sync
from include.budget_import.sync_schedule import (
    CompanySchedule,
    SyncSettingError,
    configured_schedules,
    parse_schedule,
    parse_sync_setting,
    select_companies,
)

SETTING = "01=daily@02:30 America/Chicago,02=every_4_hours America/Denver,03=never,04=hourly"
CODES = ["01", "02", "03", "04", "05"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def due_at(text: str, setting: str = SETTING) -> list[str]:
    return select_companies(CODES, parse_sync_setting(setting), utc(text), due_only=True).due


def hours_due(schedule: str, day: str) -> list[str]:
    """The UTC hours of `day` (one run at :30 each) at which the schedule is due."""
    parsed = parse_schedule(schedule)
    start = utc(f"{day}T00:30")
    return [f"{(start + timedelta(hours=h)):%H}" for h in range(24) if parsed.is_due(start + timedelta(hours=h))]


def test_default_is_every_company_daily_at_the_nightlys_time(monkeypatch):
    monkeypatch.delenv("BUDGET_IMPORT_SYNC", raising=False)
    monkeypatch.delenv("SPECTRUM_BUDGET_NIGHTLY_SCHEDULE", raising=False)
    schedules = configured_schedules()
    assert schedules.for_company("01") == CompanySchedule("daily")
    assert select_companies(CODES, schedules, utc("2026-06-01T02:30"), due_only=True).due == CODES
    assert select_companies(CODES, schedules, utc("2026-06-01T03:30"), due_only=True).due == []


def test_a_site_keeping_its_own_cron_imports_every_company_on_each_run(monkeypatch):
    monkeypatch.delenv("BUDGET_IMPORT_SYNC", raising=False)
    monkeypatch.setenv("SPECTRUM_BUDGET_NIGHTLY_SCHEDULE", "0 5 * * 1-5")
    assert configured_schedules().for_company("01").frequency == "hourly"


def test_each_company_at_its_own_hour_in_its_own_zone():
    # winter: Chicago is UTC-6, Denver UTC-7
    assert due_at("2026-01-15T08:30") == ["01", "04"]  # 02:30 CST
    assert due_at("2026-01-15T07:30") == ["02", "04"]  # 00:30 MST: every 4 hours from 00:00
    assert due_at("2026-01-15T09:30") == ["04"]
    assert hours_due("every_4_hours America/Denver", "2026-01-15") == ["03", "07", "11", "15", "19", "23"]
    assert hours_due("hourly", "2026-01-15") == [f"{h:02}" for h in range(24)]
    assert hours_due("never", "2026-01-15") == []


def test_summer_time_moves_the_utc_hour():
    assert due_at("2026-06-15T07:30") == ["01", "04"]  # 02:30 CDT (UTC-5)
    assert hours_due("daily@02:30 America/Chicago", "2026-06-15") == ["07"]


def test_spring_forward_a_time_in_the_gap_runs_once_in_the_first_hour_after_it():
    # 2026-03-08: Chicago jumps from 02:00 CST to 03:00 CDT; 02:30 does not exist that day
    assert hours_due("daily@02:30 America/Chicago", "2026-03-07") == ["08"]
    assert hours_due("daily@02:30 America/Chicago", "2026-03-08") == ["08"]  # 03:30 CDT
    assert hours_due("daily@02:30 America/Chicago", "2026-03-09") == ["07"]
    # every 4 hours: still six runs that day, at 00, 04, ... local
    assert len(hours_due("every_4_hours America/Chicago", "2026-03-08")) == 6


def test_fall_back_a_repeated_time_runs_once_at_its_first_occurrence():
    # 2026-11-01: Chicago goes from 02:00 CDT back to 01:00 CST; 01:30 happens twice (06:30 and 07:30 UTC)
    assert hours_due("daily@01:30 America/Chicago", "2026-11-01") == ["06"]
    assert hours_due("daily@02:30 America/Chicago", "2026-11-01") == ["08"]  # 02:30 CST
    every_day = [h for d in ("2026-10-31", "2026-11-01", "2026-11-02") for h in hours_due("daily@01:30 America/Chicago", d)]
    assert len(every_day) == 3, "once a day, every day, across the change"


def test_a_zone_with_a_half_hour_offset_and_a_local_day_across_midnight():
    # India is UTC+5:30: 02:00 IST is 20:30 UTC the day before
    assert hours_due("daily@02:00 Asia/Kolkata", "2026-01-15") == ["20"]
    assert hours_due("daily@23:45 Pacific/Auckland", "2026-01-15") == ["10"]  # NZDT, UTC+13


def test_every_local_day_gets_exactly_one_daily_run_over_a_year():
    schedule = parse_schedule("daily@02:30 America/New_York")
    start = utc("2026-01-01T00:30")
    runs = [start + timedelta(hours=h) for h in range(24 * 365)]
    due = [r for r in runs if schedule.is_due(r)]
    assert len(due) == 365
    assert len({r.astimezone(schedule_zone("America/New_York")).date() for r in due}) == 365


def schedule_zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def test_never_companies_are_reported_as_skipped_by_their_schedule():
    schedules = parse_sync_setting(SETTING)
    selection = select_companies(CODES, schedules, utc("2026-01-15T08:30"), due_only=True)
    assert selection.never == ["03"]
    report = selection.report(schedules, utc("2026-01-15T08:30"), "due")
    assert report["skipped_by_schedule"] == [{"company_code": "03", "schedule": "never"}]
    assert report["schedules"]["01"] == "daily@02:30 America/Chicago"


def test_a_manual_run_imports_every_company_unless_told_otherwise(monkeypatch):
    monkeypatch.setenv("BUDGET_IMPORT_SYNC", SETTING)
    instant = utc("2026-01-15T09:30")
    assert companies_to_sync(CODES, "auto", instant, "manual")[0] == CODES
    assert companies_to_sync(CODES, "auto", instant, "scheduled")[0] == ["04"]
    assert companies_to_sync(CODES, "due", instant, "manual")[0] == ["04"]
    assert companies_to_sync(CODES, "all", instant, "scheduled")[0] == CODES
    with pytest.raises(ValueError, match="sync must be one of"):
        companies_to_sync(CODES, "sometimes", instant, "manual")


def test_json_setting_and_a_default_for_every_other_company():
    schedules = parse_sync_setting('{"01": "daily@06:00 America/Chicago", "02": {"frequency": "every_4_hours", "at": "01:00", '
                                   '"timezone": "America/Denver"}, "*": "never"}')
    assert schedules.for_company("01") == CompanySchedule("daily", parse_schedule("daily@06:00").at, "America/Chicago")
    assert schedules.for_company("02").describe() == "every_4_hours@01:00 America/Denver"
    assert schedules.for_company("99").frequency == "never"


@pytest.mark.parametrize(("setting", "message"), [
    ("01=weekly", "not one of hourly"),
    ("01=daily@25:00", "not HH:MM"),
    ("01=daily Mars/Olympus", "not a zoneinfo name"),
    ("daily", "not '<company>=<schedule>'"),
    ("[1, 2]", "not '<company>=<schedule>'"),
    ('{"01": 5}', "neither a schedule text nor an object"),
])
def test_a_setting_that_cannot_be_read_names_the_entry(setting, message):
    with pytest.raises(SyncSettingError, match=message):
        parse_sync_setting(setting)
