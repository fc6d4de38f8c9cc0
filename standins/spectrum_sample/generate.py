"""Seeded, deterministic generator of sample Spectrum data (profiles ``demo`` and ``scale``).

Everything is streamed job by job: :meth:`Dataset.iter_jobs` yields one :class:`JobBundle` per job with
that job's rows for every table, its Procore fixture project(s) and its manifest entry (the oracle,
computed from the rows by :mod:`.oracle`). Memory stays bounded by one job, whatever the size.

Money is handled as integer "units" of 1/10,000 (the DECIMAL(15,4) scale) and emitted as exact
``Decimal`` values; never floats. Same profile + seed + parameters -> the same rows, byte for byte.
"""
from __future__ import annotations

import datetime as _dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterator

from . import catalog
from .catalog import COMPANIES, COMPANIES_BY_CODE, Company, CostType
from .schema import TABLES

SCALE = 10_000  # units per currency unit (DECIMAL scale 4)
CENT = 100  # units per cent
DEFAULT_SEED = 7
PROFILES = ("demo", "scale")
JOB_WIDTH = 10  # Job_Number is varchar(10), left-padded with spaces


def units(text: str) -> int:
    """'1234.5675' -> 12345675 (exact)."""
    d = Decimal(text)
    u = d * SCALE
    if u != u.to_integral_value():
        raise ValueError(f"{text} has more than 4 decimals")
    return int(u)


def dec(u: int | None) -> Decimal | None:
    return None if u is None else Decimal(u).scaleb(-4)


def _per(amount: int, rate: int) -> int:
    """amount / rate in units (4 decimals), truncated toward zero (exact integer arithmetic)."""
    q = abs(amount) * SCALE // rate
    return -q if amount < 0 else q


def pad_job(number: str) -> str:
    return number.rjust(JOB_WIDTH)


_DATES = [(_dt.date(2023, 1, 2) + _dt.timedelta(days=i)).strftime("%Y%m%d") for i in range(1200)]


@dataclass
class Line:
    """One JC_PHASE_MASTER_MC row to be, with its estimate entries and cost transactions (units)."""

    phase: str  # raw, as stored (may carry trailing spaces, may be blank)
    cost_type: str  # raw
    description: str | None  # raw
    estimates: list[int]  # posted estimate entries; [] -> Original_Est_Cost NULL
    transactions: list[int]
    unposted: list[int] = field(default_factory=list)  # entries in an unposted batch (not applied)
    tags: tuple[str, ...] = ()


@dataclass
class JobBundle:
    company: Company
    job_number: str  # trimmed
    job_row: tuple | None  # None: the job does not exist in Spectrum (a Procore project points at nothing)
    rows: dict[str, list[tuple]]  # table name -> rows of this job
    line_tags: list[tuple[str, ...]]  # parallel to rows["JC_PHASE_MASTER_MC"]
    projects: list[dict]  # Procore fixture projects belonging to this job (0 or 1)
    scenario: str
    manifest: dict = field(default_factory=dict)  # filled by oracle.job_manifest


@dataclass
class JobSpec:
    company: str
    number: str  # trimmed job number
    description: str
    scenario: str
    status: str = "A"
    lock_estimate: str = "Y"
    master: str | None = None
    filler: tuple[int, int] = (10, 20)  # how many generated clean lines (inclusive range)
    special: list[Line] = field(default_factory=list)
    unposted_lines: int = 0  # add an unposted estimate batch touching this many lines
    project_id: int | None = None  # Procore project, None = none at all
    linked: bool = True  # False: the project exists but has no origin_id (not synced)
    budget_tool_active: bool = True
    budget_locked: bool = False
    existing: list[tuple[str, str, str]] = field(default_factory=list)  # (cost code, type, amount)
    extra_cost_codes: list[tuple[str, str]] = field(default_factory=list)
    in_spectrum: bool = True


def _m(text: str) -> int:
    return units(text)


def _l(phase, ct, desc, est=(), tx=(), tags=(), unposted=()) -> Line:
    return Line(phase, ct, desc, [_m(x) for x in est], [_m(x) for x in tx], [_m(x) for x in unposted],
                tuple(tags))


DEFAULT = object()  # description placeholder: take the phase's catalogue name


def demo_specs() -> list[JobSpec]:
    """The hand-written demo: every awkward case at least once, each inside an otherwise importable job."""
    gc = catalog.PHASE_NAMES
    return [
        # ---------------- company 01, Acme Builders (Procore company 1001) ----------------
        JobSpec(
            "01", "19.50", "Riverside Clinic",
            "clean job; its Procore project already has budget lines (override and keep-existing differ)",
            project_id=2001, filler=(15, 22),
            special=[
                _l("01-100", "L", gc["01-100"], ["1850.00"], ["420.00", "615.50"]),
                _l("03-310", "M", gc["03-310"], ["40000.00", "2000.00"], ["18250.00", "9100.40"],
                   tags=["revised_estimate"]),
                _l("01-200", "L", gc["01-200"], ["12000.00"], ["3100.00"]),
            ],
            existing=[("01-100", "L", "1500.00"), ("03-310", "M", "40000.00"), ("01-200", "L", "12000.00"),
                      ("01-500", "S", "3200.00"), ("99-900", "O", "25000.00")],
            extra_cost_codes=[("99-900", "Owner Contingency")],
        ),
        JobSpec("01", "20.00", "Harbor Campus", "master job without phases of its own: ready, nothing to import",
                project_id=2002, filler=(0, 0)),
        JobSpec(
            "01", "20.01", "Harbor Campus Bldg A", "sub job of master 20.00; awkward lines, set 1",
            master="20.00", project_id=2003, filler=(8, 14),
            special=[
                _l("05-100", "S", gc["05-100"], ["18500.00"], ["6400.00"], tags=["duplicate_key"]),
                _l("05-100", "S", gc["05-100"], ["19250.00"], ["1200.00"], tags=["duplicate_key"]),
                _l("", "M", "Misc. Materials", ["750.00"], ["120.00"], tags=["blank_phase_code"]),
                _l("06-100", "X", gc["06-100"], ["2300.00"], ["400.00"], tags=["unknown_cost_type"]),
                _l("07-200", "M", gc["07-200"], ["1234.5675"], ["310.00"], tags=["estimate_more_than_2_decimals"]),
                _l("07-500", "S", gc["07-500"], ["56000.00"], ["12500.125", "3000.00"],
                   tags=["jtd_more_than_2_decimals"]),
                _l("01-500", "O", "Temporary Facilities and Site Controls", ["4500.00"], ["900.00"],
                   tags=["description_too_long"]),
                _l("09-900", "S", gc["09-900"], ["-4200.00"], [], tags=["negative_estimate"]),
                _l("05-100", "L", "Structural Steel Erection", ["8800.00"], ["2750.00"],
                   tags=["description_exactly_25_chars"]),
                _l("04-200", "M", gc["04-200"], ["3150.5000"], [], tags=["zero_digits_beyond_cents"]),
            ],
        ),
        JobSpec(
            "01", "20.02", "Harbor Campus Bldg B", "sub job of master 20.00; awkward lines, set 2",
            master="20.00", project_id=2004, filler=(6, 12),
            special=[
                _l("02-300", "E", gc["02-300"], ["2500.00", "-2500.00"], ["800.00", "150.50"],
                   tags=["zero_estimate_with_jtd"]),
                _l("02-200", "O", gc["02-200"], [], ["310.00", "95.25"], tags=["jtd_without_estimate"]),
                _l("10-800", "M", gc["10-800"], [], [], tags=["no_estimate_no_cost"]),
                _l("12-500", "S", gc["12-500"], ["1000.00", "-1000.00"], ["300.00", "-300.00"],
                   tags=["zero_estimate_net_zero_cost"]),
                _l("08-100", "M", None, ["6400.00"], ["2100.00"], tags=["null_description"]),
                _l("03-310  ", "L ", gc["03-310"], ["15000.00"], ["4200.00", "3900.00"],
                   tags=["trailing_space_phase_code", "trailing_space_cost_type"]),
                _l("03-100", "M", "Béton coulé — niveau 2", ["27500.00"], ["9800.00"],
                   tags=["non_ascii_description"]),
                _l("15-500", "S", gc["15-500"], ["98765432109.99"], ["125000.00"], tags=["huge_amount"]),
                _l("04-200", "M", "Unit Masonry" + " " * 20, ["5100.00"], ["700.00"],
                   tags=["description_trailing_spaces"]),
                _l("09-600", "M", gc["09-600"], ["5200.00"], ["-150.00"], tags=["negative_jtd"]),
            ],
        ),
        JobSpec("01", "21.10", "Summit School Gym",
                "an estimate batch is not posted yet (Posted_Status 'U'): blocked",
                project_id=2005, filler=(8, 14), unposted_lines=2),
        JobSpec("01", "21.20", "Cedar Lofts", "budget not finalized and locked (Lock_Estimate_Entry 'N'): blocked",
                lock_estimate="N", project_id=2006, filler=(8, 14)),
        JobSpec("01", "18.05", "Granite Works Depot", "closed job (Status_Code 'C'): blocked",
                status="C", project_id=2007, filler=(6, 10)),
        JobSpec("01", "22.00", "Lakeside Library",
                "active job not linked: a Procore project with the same name and number exists but carries "
                "no origin_id (never synced), so it must not be matched", project_id=2008, linked=False,
                filler=(6, 10)),
        # ---------------- company 02, Northwind Constructors (Procore company 1002) ----------------
        JobSpec("02", "19.50", "Northwind Depot",
                "clean job; same job number as company 01's 19.50 (origin_id tells them apart)",
                project_id=2101, filler=(10, 18)),
        JobSpec("02", "4410", "Maple Warehouse", "Procore project's Budget tool inactive: blocked",
                project_id=2102, budget_tool_active=False, filler=(6, 10)),
        JobSpec("02", "4420", "Beacon Tower", "Procore budget locked: blocked",
                project_id=2103, budget_locked=True, filler=(6, 10)),
        JobSpec("02", "4430", "Willow Hall", "inactive job (Status_Code 'I'): blocked",
                status="I", project_id=2104, filler=(5, 8)),
        JobSpec(
            "02", "4440", "Clínica São José", "awkward lines, set 3 (company 02 cost types 1-4)",
            project_id=2105, filler=(8, 14),
            special=[
                _l("16-100", "3", "電気", ["48000.00"], ["12000.00", "8800.00"], tags=["non_ascii_description"]),
                _l("01-100", "L", gc["01-100"], ["3000.00"], ["450.00"],
                   tags=["unknown_cost_type", "other_companys_cost_type"]),
                # no transactions on this pair: raw and trimmed grouping of the JTD cost agree (0 either way)
                _l("06-100", "2", gc["06-100"], ["2100.00"], [], tags=["duplicate_key"]),
                _l("06-100 ", "2", gc["06-100"], ["2250.00"], [],
                   tags=["duplicate_key", "duplicate_after_trim", "trailing_space_phase_code"]),
                _l("09-200", "", gc["09-200"], ["3900.00"], [], tags=["blank_cost_type"]),
                _l("09-300", "2", gc["09-300"], ["999.999"], ["120.00"], tags=["estimate_more_than_2_decimals"]),
            ],
        ),
        JobSpec("02", "4499", "Pioneer Annex",
                "a Procore project linked to a Spectrum job that does not exist (deleted or mistyped): blocked",
                project_id=2106, in_spectrum=False, filler=(0, 0)),
    ]


# ----------------------------------------------------------------------------------------------
# row building
# ----------------------------------------------------------------------------------------------


class _JobWriter:
    """Turns Lines into rows of the three line-level tables, for one job."""

    def __init__(self, company: Company, padded_job: str, rng: random.Random, start: int):
        self.company = company
        self.cc = company.code
        self.job = padded_job
        self.rng = rng
        self.start = start  # index into _DATES
        self.phase_rows: list[tuple] = []
        self.est_rows: list[tuple] = []
        self.tran_rows: list[tuple] = []
        self.tags: list[tuple[str, ...]] = []
        self.cost_types = {c.code: c for c in company.cost_types}
        self.total_estimate = 0

    def add(self, line: Line) -> None:
        rng = self.rng
        ct: CostType | None = self.cost_types.get(line.cost_type.strip(" "))
        labor = ct.is_labor if ct else False
        uom = ct.uom if ct else "LS"
        tran_type = ct.tran_type if ct else "JC"
        # unit price / labour rate in units; quantities and hours follow from amounts (exact ints)
        rate = rng.randrange(38, 96) * SCALE if labor else rng.randrange(4, 400) * SCALE
        start = self.start
        est_date = _DATES[start]
        qty_total = hrs_total = 0
        cost_total = None
        for i, amount in enumerate(line.estimates):
            q = _per(amount, rate)
            h = q if labor else 0
            qty_total += q
            hrs_total += h
            cost_total = amount if cost_total is None else cost_total + amount
            d = _DATES[start + 30 * i]
            self.est_rows.append((
                self.cc, self.job, line.phase, line.cost_type, ("OE" if i == 0 else "RE") + d[2:6],
                d, dec(amount), dec(h), dec(q), "P",
            ))
        for amount in line.unposted:
            q = _per(amount, rate)
            d = _DATES[start + 400]
            self.est_rows.append((
                self.cc, self.job, line.phase, line.cost_type, "RE" + d[2:6] + "U", d, dec(amount),
                dec(q if labor else 0), dec(q), "U",
            ))
        if cost_total is None:
            est_qty = est_hrs = unit_cost = None
        else:
            est_qty, est_hrs = qty_total, hrs_total
            unit_cost = _per(cost_total, qty_total) if qty_total > 0 else None
            self.total_estimate += cost_total
        self.phase_rows.append((
            self.cc, self.job, line.phase, line.cost_type, line.description, "A", uom,
            dec(est_qty), dec(cost_total), dec(est_hrs), dec(unit_cost), "N", None,
        ))
        self.tags.append(line.tags)
        if line.transactions:
            offsets = sorted(rng.randrange(5, 420) for _ in line.transactions)
            for amount, off in zip(line.transactions, offsets):
                d = _DATES[start + off]
                q = _per(amount, rate)
                self.tran_rows.append((
                    self.cc, self.job, line.phase, line.cost_type, tran_type, d, dec(amount),
                    dec(q if labor else 0), dec(q), tran_type + d[2:8],
                ))


def _clean_line(rng: random.Random, phase: str, ct: str, desc: str | None) -> Line:
    """A realistic, importable line: positive estimate (sometimes revised), 0-4 cost transactions."""
    est = rng.randrange(25, 25000) * 100_000  # $250 .. $250,000 in $10 steps
    if rng.random() < 0.25:
        est += rng.randrange(1, 100) * CENT
    estimates = [est]
    if rng.random() < 0.25:
        delta = est * rng.randrange(-15, 21) // 100 // CENT * CENT
        if delta:
            estimates.append(delta)
    total = sum(estimates)
    tx: list[int] = []
    if rng.random() < 0.85:
        jtd = int(total * rng.random() * 1.1) // CENT * CENT
        k = rng.randrange(1, 5)
        if k == 1 or jtd < k * CENT:
            tx = [jtd]
        else:
            cuts = sorted(rng.randrange(1, jtd // CENT) * CENT for _ in range(k - 1))
            prev = 0
            for c in cuts:
                tx.append(c - prev)
                prev = c
            tx.append(jtd - prev)
    return Line(phase, ct, desc, estimates, tx)


def _job_row(company: Company, spec_number: str, description: str, status: str, lock: str,
             master: str | None, contract: int, rng: random.Random) -> tuple:
    return (
        company.code, pad_job(spec_number), pad_job(master) if master else None, description, status,
        rng.choice("FCU"), dec(contract), f"{rng.randrange(1, 6)}00", "Y", lock,
    )


def _project(company: Company, spec: JobSpec, project_id: int, linked: bool) -> dict:
    codes = {}
    for code, ct, amount in spec.existing:
        codes.setdefault(code, catalog.PHASE_NAMES.get(code))
    for code, name in spec.extra_cost_codes:
        codes[code] = name
    return {
        "id": project_id,
        "name": spec.description,
        "project_number": spec.number,
        "origin_id": f"{company.code}|{spec.number}" if linked else None,
        "origin_data": None,
        "budget_tool_active": spec.budget_tool_active,
        "budget_locked": spec.budget_locked,
        "cost_codes": [{"code": c, "name": n, "origin_id": None} for c, n in sorted(codes.items())],
        "budget_line_items": [
            {"cost_code": c, "line_item_type": t, "original_budget_amount": a} for c, t, a in spec.existing
        ],
    }


MAX_MONEY = 10 ** 15 - 1  # DECIMAL(15,4) in units


def _contract(total_estimate: int, rng: random.Random) -> int:
    """Contract = estimate plus a 6-15 % markup, capped to what DECIMAL(15,4) holds."""
    return min(max(total_estimate, 0) * rng.randrange(106, 116) // 100 // CENT * CENT, MAX_MONEY // CENT * CENT)


class Dataset:
    """A generated sample: ``profile`` 'demo' or 'scale', deterministic for a given seed."""

    def __init__(self, profile: str = "demo", seed: int = DEFAULT_SEED, *, jobs: int = 1000, lines: int = 1000,
                 dirty_rate: float = 0.02):
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
        self.profile = profile
        self.seed = seed
        self.jobs = jobs
        self.lines = lines
        self.dirty_rate = dirty_rate
        if profile == "scale":
            max_lines = catalog.SCALE_PHASE_COUNT * min(len(c.cost_types) for c in COMPANIES)
            if not 1 <= lines <= max_lines:
                raise ValueError(f"--lines must be between 1 and {max_lines}")
            if not 1 <= jobs <= 90_000:
                raise ValueError("--jobs must be between 1 and 90000")
        self.companies = COMPANIES

    @property
    def parameters(self) -> dict:
        if self.profile == "demo":
            return {"profile": "demo", "seed": self.seed}
        return {"profile": "scale", "seed": self.seed, "jobs": self.jobs, "lines": self.lines,
                "dirty_rate": self.dirty_rate}

    def cost_type_rows(self) -> list[tuple]:
        return [(c.code, ct.code, ct.description) for c in self.companies for ct in c.cost_types]

    def _rng(self, *parts: object) -> random.Random:
        # string seeds are hashed with SHA-512 by random.seed: stable across runs and PYTHONHASHSEED
        return random.Random("|".join(str(p) for p in (self.profile, self.seed, *parts)))

    def iter_jobs(self) -> Iterator[JobBundle]:
        from .oracle import job_manifest  # local import: oracle imports this module

        gen = self._iter_demo() if self.profile == "demo" else self._iter_scale()
        for bundle in gen:
            bundle.manifest = job_manifest(bundle)
            yield bundle

    # ------------------------------------------------------------------ demo
    def _iter_demo(self) -> Iterator[JobBundle]:
        for spec in demo_specs():
            company = COMPANIES_BY_CODE[spec.company]
            rng = self._rng("job", spec.company, spec.number)
            projects = []
            if spec.project_id is not None:
                projects.append(_project(company, spec, spec.project_id, spec.linked))
            if not spec.in_spectrum:
                yield JobBundle(company, spec.number, None, {}, [], projects, spec.scenario)
                continue
            w = _JobWriter(company, pad_job(spec.number), rng, rng.randrange(0, 300))
            lines = list(spec.special)
            used = {(ln.phase.strip(" "), ln.cost_type.strip(" ")) for ln in lines}
            used |= {(c, t) for c, t, _ in spec.existing}
            free = [(p, ct.code) for p, _ in catalog.PHASES for ct in company.cost_types if (p, ct.code) not in used]
            n = rng.randint(*spec.filler)
            for phase, ct in sorted(rng.sample(free, n)):
                lines.append(_clean_line(rng, phase, ct, catalog.PHASE_NAMES[phase]))
            for ln in lines[len(spec.special):][:spec.unposted_lines]:
                ln.unposted.append(sum(ln.estimates) // 10 // CENT * CENT or 100 * SCALE)
                ln.tags = ln.tags + ("unposted_estimate_entry",)
            # natural order: by phase code then cost type; specials keep their relative order
            order = sorted(range(len(lines)), key=lambda i: (lines[i].phase.strip(" "), lines[i].cost_type, i))
            for i in order:
                w.add(lines[i])
            job_row = _job_row(company, spec.number, spec.description, spec.status, spec.lock_estimate,
                               spec.master, _contract(w.total_estimate, rng), rng)
            yield JobBundle(
                company, spec.number, job_row,
                {"JC_JOB_MASTER_MC": [job_row], "JC_PHASE_MASTER_MC": w.phase_rows,
                 "JC_PHASE_ESTIMATES_MC": w.est_rows, "JC_TRANSACTION_HISTORY_MC": w.tran_rows},
                w.tags, projects, spec.scenario,
            )

    # ------------------------------------------------------------------ scale
    def _iter_scale(self) -> Iterator[JobBundle]:
        n_companies = len(self.companies)
        for i in range(self.jobs):
            company = self.companies[i % n_companies]
            number = f"{30 + i // 100}.{i % 100:02d}"
            rng = self._rng("job", i)
            word = catalog.PROJECT_WORDS[rng.randrange(len(catalog.PROJECT_WORDS))]
            kind = catalog.PROJECT_KINDS[rng.randrange(len(catalog.PROJECT_KINDS))]
            description = f"{word} {kind} {number}"[:25]
            spec = JobSpec(company.code, number, description, "scale job")
            cts = company.cost_types
            n_ct = len(cts)
            w = _JobWriter(company, pad_job(number), rng, rng.randrange(0, 300))
            combos = sorted(rng.sample(range(catalog.SCALE_PHASE_COUNT * n_ct), self.lines))
            k = 0
            while k < len(combos):
                p_idx, c_idx = divmod(combos[k], n_ct)
                phase, desc = catalog.scale_phase(p_idx)
                ct = cts[c_idx].code
                k += 1
                if rng.random() >= self.dirty_rate:
                    w.add(_clean_line(rng, phase, ct, desc))
                    continue
                kind = _DIRTY_KINDS[rng.randrange(len(_DIRTY_KINDS))]
                if kind == "duplicate_key":
                    if k < len(combos):  # the copy takes the next slot, so row counts stay exact
                        k += 1
                        a = _clean_line(rng, phase, ct, desc)
                        b = _clean_line(rng, phase, ct, desc)
                        a.tags = b.tags = ("duplicate_key",)
                        w.add(a)
                        w.add(b)
                    else:
                        w.add(_clean_line(rng, phase, ct, desc))
                    continue
                w.add(_dirty_line(kind, rng, phase, ct, desc))
            job_row = _job_row(company, number, description, "A", "Y", None,
                               _contract(w.total_estimate, rng), rng)
            yield JobBundle(
                company, number, job_row,
                {"JC_JOB_MASTER_MC": [job_row], "JC_PHASE_MASTER_MC": w.phase_rows,
                 "JC_PHASE_ESTIMATES_MC": w.est_rows, "JC_TRANSACTION_HISTORY_MC": w.tran_rows},
                w.tags, [_project(company, spec, 10_001 + i, True)], "scale job",
            )


_DIRTY_KINDS = (
    "duplicate_key", "negative_estimate", "zero_estimate_with_jtd", "jtd_without_estimate", "no_estimate_no_cost",
    "estimate_more_than_2_decimals", "description_too_long", "unknown_cost_type", "blank_phase_code",
    "trailing_space_phase_code", "null_description", "non_ascii_description",
)


def _dirty_line(kind: str, rng: random.Random, phase: str, ct: str, desc: str) -> Line:
    ln = _clean_line(rng, phase, ct, desc)
    ln.tags = (kind,)
    if kind == "negative_estimate":
        ln.estimates = [-ln.estimates[0]]
    elif kind == "zero_estimate_with_jtd":
        ln.estimates = [ln.estimates[0], -ln.estimates[0]]
        ln.transactions = ln.transactions if any(ln.transactions) else [rng.randrange(1, 500) * SCALE]
    elif kind == "jtd_without_estimate":
        ln.estimates = []
        ln.transactions = ln.transactions if any(ln.transactions) else [rng.randrange(1, 500) * SCALE]
    elif kind == "no_estimate_no_cost":
        ln.estimates, ln.transactions = [], []
    elif kind == "estimate_more_than_2_decimals":
        ln.estimates = [ln.estimates[0] + rng.randrange(1, 100)]
    elif kind == "description_too_long":
        ln.description = f"{desc} - additional scope items"
    elif kind == "unknown_cost_type":
        ln.cost_type = "X"
    elif kind == "blank_phase_code":
        ln.phase = ""
    elif kind == "trailing_space_phase_code":
        ln.phase = phase + " "
    elif kind == "null_description":
        ln.description = None
    elif kind == "non_ascii_description":
        ln.description = "Béton coulé — niveau 2"
    return ln


def table_columns() -> dict[str, tuple[str, ...]]:
    return {t.name: t.column_names for t in TABLES}
