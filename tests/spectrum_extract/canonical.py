"""The canonical output of the extraction, and the same thing computed from the oracle.

Canonical = what the later stages can see: every job of every company with its trimmed keys, its
readiness facts and every budget line (all EXTRACT_COLUMNS; amounts as the exact Decimal's text), plus
each company's cost types. Lines are compared as a sorted list: row ORDER is not part of the contract
(MariaDB and SQL Server compare with PAD SPACE, so '03-310  ' and '03-310' tie in ORDER BY and engines
break the tie differently).
"""
from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from include.budget_import.spectrum_source import (
    AMOUNT_COLUMNS,
    EXTRACT_COLUMNS,
    cost_types,
    find_job,
    iter_budget_lines,
    list_jobs,
    readiness_facts,
)
from standins.spectrum_sample.generate import Dataset
from standins.spectrum_sample.schema import TABLES_BY_NAME

AMOUNT_POSITIONS = tuple(EXTRACT_COLUMNS.index(c) for c in AMOUNT_COLUMNS)


def _sort_key(line: tuple) -> tuple:
    return tuple((v is not None, v or "") for v in line)


def canonical_line(line: tuple[Any, ...]) -> tuple[str | None, ...]:
    """One extracted line as text; an amount must be an exact Decimal at the database's 4 decimals."""
    out: list[str | None] = []
    for i, value in enumerate(line):
        if i in AMOUNT_POSITIONS:
            assert type(value) is Decimal, f"{EXTRACT_COLUMNS[i]} is {type(value).__name__}: {value!r}"
            assert value.is_finite() and value.as_tuple().exponent == -4, f"{EXTRACT_COLUMNS[i]}: {value!r}"
            out.append(str(value))
        else:
            assert value is None or type(value) is str, f"{EXTRACT_COLUMNS[i]}: {value!r}"
            out.append(value)
    return tuple(out)


def extract_canonical(conn, company_codes, chunk_size: int = 7) -> dict:
    """Run the production extraction (spectrum_source) over ``conn`` and return its canonical output."""
    out: dict[str, dict] = {}
    for company in company_codes:
        jobs: dict[str, dict] = {}
        for job in list_jobs(conn, company):
            assert job.job_number not in jobs, f"job {company}|{job.job_number} listed twice"
            assert find_job(conn, company, job.job_number) == job, job
            assert find_job(conn, company, f"  {job.job_number} ") == job, "find_job trims what people type"
            facts = readiness_facts(conn, job)
            lines = [canonical_line(line) for chunk in iter_budget_lines(conn, job, chunk_size=chunk_size)
                     for line in chunk]
            jobs[job.job_number] = {
                "job": asdict(job),
                "readiness": {"unposted_estimate_entries": facts.unposted_estimate_entries,
                              "estimates_posted": facts.estimates_posted, "budget_locked": facts.budget_locked},
                "lines": sorted(lines, key=_sort_key),
            }
        out[company] = {"cost_types": cost_types(conn, company), "jobs": jobs}
    return out


def _trim(value: str | None) -> str | None:
    return None if value is None else (value.strip() or None)


def _amount(value: Any) -> str:
    return str(Decimal(0 if value is None else value).quantize(Decimal("0.0001")))


def oracle_canonical(manifest: dict, dataset: Dataset | None = None) -> dict:
    """The canonical output the extraction must produce, from the oracle manifest; what the manifest does
    not carry (cost type descriptions, unposted entry counts) comes from the generator's own rows, which
    the manifest was computed from."""
    dataset = dataset or Dataset(manifest["parameters"]["profile"], manifest["parameters"]["seed"])
    ct_desc = {(c, t): d for c, t, d in dataset.cost_type_rows()}
    ecol = {c: i for i, c in enumerate(TABLES_BY_NAME["JC_PHASE_ESTIMATES_MC"].column_names)}
    bundles = {(b.company.code, b.job_number): b for b in dataset.iter_jobs()}

    out: dict[str, dict] = {}
    for company in manifest["companies"]:
        cc = company["company_code"]
        out[cc] = {"cost_types": {ct: _trim(ct_desc[(cc, ct)]) or ct for ct in company["cost_types"]}, "jobs": {}}
    for spec in manifest["jobs"]:
        if not spec["in_spectrum"]:
            continue
        cc, number = spec["company_code"], spec["job_number"]
        bundle = bundles[(cc, number)]
        phase_rows = bundle.rows.get("JC_PHASE_MASTER_MC", [])
        assert len(phase_rows) == len(spec["lines"])
        lines = []
        for line in spec["lines"]:
            lines.append((
                cc, number, _trim(line["phase_code"]), _trim(line["cost_type"]), _trim(line["description"]),
                _amount(line["original_estimate"]), _amount(line["jtd_cost"]),
            ))
        unposted = sum(1 for r in bundle.rows.get("JC_PHASE_ESTIMATES_MC", []) if r[ecol["Posted_Status"]] != "P")
        assert (unposted > 0) == spec["has_unposted_estimates"]
        out[cc]["jobs"][number] = {
            "job": {"company_code": cc, "job_number": number, "stored_job_number": spec["job_number_raw"],
                    "master_job": _trim(spec["master_job"]), "description": _trim(spec["description"]),
                    "status_code": spec["status_code"]},
            "readiness": {"unposted_estimate_entries": unposted, "estimates_posted": not spec["has_unposted_estimates"],
                          "budget_locked": spec["lock_estimate_entry"] == "Y"},
            "lines": sorted(lines, key=_sort_key),
        }
    return out
