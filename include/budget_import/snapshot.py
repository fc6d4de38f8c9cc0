"""Snapshot of a Procore budget before an override changes it, and the restore that puts it back.

The snapshot is JSON (exact amounts as text, what restore reads) and a PDF for the people deciding
between override and additive, as Procore's own import offers: which company, job, project and run it
is of, when it was taken (local time), every existing line with its readable names and what the planned
import would do to it, the lines the import would create, and the totals before and after.

snapshot.json keeps the keys restore reads (company_code, job_number, procore_company_id, project_id,
lines[].cost_code / cost_type / amount); everything else in it is for people and may be missing in
older snapshots.
"""
from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from include.budget_import.load import BudgetLoader, LoadOutcome
from include.budget_import.money import money_text, parse_money
from include.budget_import.plan import (
    EQUAL_NOTE,
    REJECTED_KEEP,
    DesiredLine,
    ExistingLine,
    MergePlan,
)
from include.budget_import.settings import report_time_zones
from include.budget_import.storage import StoragePath, read_json, write_bytes, write_json
from include.budget_import.totals import money, signed_money

if TYPE_CHECKING:
    from fpdf import FPDF

SNAPSHOT_JSON = "snapshot.json"
SNAPSHOT_PDF = "snapshot.pdf"
UNICODE_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
UNICODE_BOLD_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
# DejaVu has Latin, Greek, Cyrillic, Hebrew and Arabic but no CJK: a Chinese description is drawn with
# the first of these that is installed (Debian's fonts-droid-fallback), else shown as '?'.
FALLBACK_FONTS: tuple[Path, ...] = (Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),)
DISPLAY_LIMIT = 60  # characters of a description or name shown (Spectrum may hold a megabyte of text)
ELLIPSIS = "…"

RESTORE_KEYS = ("company_code", "job_number", "procore_company_id")
# What people read besides the keys restore checks (present when known)
DISPLAY_KEYS = ("company_name", "procore_project_name", "procore_project_number", "job_description")


# --- snapshot.json -------------------------------------------------------------------------------
def snapshot_label(ready: Mapping[str, Any], run_id: str | None = None) -> dict[str, Any]:
    """Which job and Procore project a snapshot is of (what restore checks before writing it back), with
    the names people know them by and the run that took it."""
    label = {k: ready[k] for k in RESTORE_KEYS} | {"project_id": ready["procore_project_id"]}
    label |= display_fields(ready)
    if run_id:
        label["run_id"] = run_id
    return label


def display_fields(source: Mapping[str, Any]) -> dict[str, Any]:
    """The company, project and job names of a `ready` dict or an earlier snapshot, when known."""
    return {k: source[k] for k in DISPLAY_KEYS if source.get(k) not in (None, "")}


def line_names(payload: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The cost code descriptions and cost type names a snapshot knew (none in an old one)."""
    codes: dict[str, str] = {}
    types: dict[str, str] = {}
    for line in list(payload.get("lines") or []) + list(payload.get("planned_creates") or []):
        if line.get("cost_code_description"):
            codes.setdefault(str(line["cost_code"]), str(line["cost_code_description"]))
        if line.get("cost_type_name"):
            types.setdefault(str(line["cost_type"]), str(line["cost_type_name"]))
    return {"cost_codes": codes, "cost_types": types}


def snapshot_payload(label: dict[str, Any], lines: list[ExistingLine], taken_at: str, *,
                     plan: MergePlan | None = None, names: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """snapshot.json: the budget as it stands; with a plan, what the import would do to each line (matched
    by Procore's line id), the lines it would create and the total after it."""
    code_names = (names or {}).get("cost_codes") or {}
    type_names = (names or {}).get("cost_types") or {}
    planned = _planned_by_id(plan) if plan is not None else {}
    rows = []
    for line in lines:
        row: dict[str, Any] = {"id": line.id, "cost_code": line.cost_code, "cost_type": line.cost_type, "amount": money_text(line.amount)}
        row |= _names(line.cost_code, line.cost_type, code_names, type_names)
        if line.id in planned:
            row["planned"] = planned[line.id]
        rows.append(row)
    total = sum((line.amount for line in lines), Decimal(0))
    local, zone = local_time(taken_at)
    payload = {
        **label,
        "taken_at": taken_at,
        "taken_at_local": local,
        "time_zone": zone,
        "line_count": len(lines),
        "total": money_text(total),
        "lines": rows,
    }
    if plan is not None:
        creates = [{"cost_code": c.cost_code, "cost_type": c.cost_type, "amount": money_text(c.amount)}
                   | _names(c.cost_code, c.cost_type, code_names, type_names, c.description) for c in plan.creates]
        after_by_id = _amounts_after(plan)
        remaining = [after_by_id.get(line.id, line.amount) for line in lines]
        after = sum((amount for amount in remaining if amount is not None), Decimal(0)) + sum((c.amount for c in plan.creates), Decimal(0))
        payload |= {
            "planned_mode": plan.mode,
            "planned_counts": plan.counts(),
            "planned_creates": creates,
            "line_count_after": sum(1 for amount in remaining if amount is not None) + len(creates),
            "total_after": money_text(after),
            "difference": money_text(after - total),
        }
    return payload


def _names(code: str, cost_type: str, code_names: Mapping[str, str], type_names: Mapping[str, str], fallback: str = "") -> dict[str, str]:
    out = {}
    if description := code_names.get(code) or fallback:
        out["cost_code_description"] = description
    if type_name := type_names.get(cost_type):
        out["cost_type_name"] = type_name
    return out


def _planned_by_id(plan: MergePlan) -> dict[int, dict[str, Any]]:
    """Each existing line's planned change, by Procore's line id (as the plan matched them)."""
    planned: dict[int, dict[str, Any]] = {}
    for update in plan.updates:
        planned[update.line.id] = {"action": "update", "amount_after": money_text(update.new_amount),
                                   "difference": money_text(update.new_amount - update.line.amount)}
    for line in plan.deletes:
        planned[line.id] = {"action": "delete", "amount_after": None, "difference": money_text(Decimal(0) - line.amount)}  # never "-0.00"
    for line, note in plan.keeps:
        planned[line.id] = {"action": "keep", "amount_after": money_text(line.amount), "difference": "0.00", "note": note}
    return planned


def _amounts_after(plan: MergePlan) -> dict[int, Decimal | None]:
    """Each planned line's amount after the import, by line id (None: deleted); a line the plan does not
    name keeps its amount."""
    after: dict[int, Decimal | None] = {u.line.id: u.new_amount for u in plan.updates}
    after |= {line.id: None for line in plan.deletes}
    return after


def write_snapshot(folder: StoragePath, payload: dict[str, Any]) -> tuple[StoragePath, StoragePath]:
    """snapshot.json and snapshot.pdf in a job's folder (local or on an object store), each atomically."""
    json_path = write_json(folder / SNAPSHOT_JSON, payload)
    pdf_path = folder / SNAPSHOT_PDF
    render_pdf(payload, pdf_path)
    return json_path, pdf_path


# --- local time ----------------------------------------------------------------------------------
def report_zone() -> tuple[tzinfo, str]:
    """The zone people read times in: BUDGET_IMPORT_TIMEZONE, else Airflow's default time zone (when not
    UTC), else UTC. A name zoneinfo does not know is passed over, so the page never shows a wrong zone."""
    for name in report_time_zones():
        name = (name or "").strip()
        if not name or name.lower() == "utc":
            continue
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return UTC, "UTC"


def local_time(iso: str) -> tuple[str, str]:
    """'2026-12-01T23:25:00+00:00' -> ('2026-12-01 17:25 CST (America/Chicago)', 'America/Chicago')."""
    zone, name = report_zone()
    try:
        moment = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso), name
    if moment.tzinfo is None:  # now_iso() writes UTC with its offset; a bare time is taken as UTC too
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    abbreviation = local.tzname() or name
    return f"{local:%Y-%m-%d %H:%M} {abbreviation}" + ("" if abbreviation == name else f" ({name})"), name


# --- what people read ----------------------------------------------------------------------------
def display(value: Any, limit: int = DISPLAY_LIMIT) -> str:
    """One line of at most `limit` characters: control characters and line breaks become spaces, and
    longer text is cut with '…' (the whole text stays in Spectrum and in snapshot.json)."""
    text = str(value if value is not None else "")
    if len(text) > limit * 4:  # never scan a megabyte for a line of 60 characters
        text = text[: limit * 4]
    text = " ".join("".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def named(code: Any, name: Any) -> str:
    """'01-100 General Conditions': the code, and its readable name when known."""
    code_text, name_text = display(code, 30), display(name)
    return f"{code_text} {name_text}" if name_text and name_text != code_text else code_text


def planned_text(planned: Mapping[str, Any] | None, mode: str | None) -> str:
    """What the import would do to an existing line, in words and money."""
    if not planned:
        return "not in the plan" if mode else ""
    action = planned.get("action")
    if action == "update":
        return f"update to {money(planned['amount_after'])} ({signed_money(planned['difference'])})"
    if action == "delete":
        return "delete"
    note = str(planned.get("note") or "")
    if mode != "override":
        return "keep"
    if note == EQUAL_NOTE:
        return "keep (already equal)"
    if note.startswith(REJECTED_KEEP):
        reason = note[len(REJECTED_KEEP):].strip().removeprefix("(").removesuffix(")")
        return f"keep (Spectrum row rejected: {display(reason)})"
    return f"keep ({display(note)})" if note else "keep"


def _title(payload: Mapping[str, Any]) -> str:
    if payload.get("restore_of"):
        return f"Procore budget before restoring the snapshot of run {display(payload['restore_of'])}"
    if payload.get("stage") == "review":
        return "Procore budget before the import (for review)"
    return f"Procore budget before an {payload.get('planned_mode') or 'override'} import"


def _header_fields(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    company = display(payload.get("company_code"), 20)
    if payload.get("company_name"):
        company += f" - {display(payload['company_name'])}"
    job = display(payload.get("job_number"), 30)
    if payload.get("job_description"):
        job += f" - {display(payload['job_description'])}"
    project = display(payload.get("procore_project_name")) or "(name not recorded)"
    if payload.get("procore_project_number"):
        project += f" (No. {display(payload['procore_project_number'], 30)})"
    project += f"  ·  project id {payload.get('project_id')}, company id {payload.get('procore_company_id', '?')}"
    taken = payload.get("taken_at_local") or local_time(str(payload.get("taken_at", "")))[0]
    fields = [("Spectrum company", company), ("Spectrum job", job), ("Procore project", project),
              ("Airflow run", display(payload.get("run_id") or "(not recorded)", 120)), ("Taken", str(taken)),
              ("Budget", f"{payload.get('line_count', len(payload.get('lines') or []))} line items, total {money(payload.get('total'))}")]
    mode = payload.get("planned_mode")
    if mode:
        counts = payload.get("planned_counts") or {}
        chosen = " (if chosen at review)" if payload.get("stage") == "review" else ""
        fields.append(("Planned import", (f"{mode}{chosen}: {counts.get('update', 0)} to update, {counts.get('delete', 0)} to delete, "
                                          f"{counts.get('keep', 0)} to keep, {counts.get('create', 0)} to create")))
        fields.append(("After the import", (f"{payload.get('line_count_after', '?')} line items, total {money(payload.get('total_after'))} "
                                            f"(difference {signed_money(payload.get('difference')) or '$0.00'})")))
    else:
        fields.append(("Planned import", "none attached: the budget as it stood"))
    return fields


# --- the PDF -------------------------------------------------------------------------------------
PAGE_MARGIN = 10.0  # mm
LINE_H = 4.0  # mm per text line in the tables (8 pt)
MAX_CELL_LINES = 3  # a cell wraps to at most this many lines; the rest is cut with '…'


def render_pdf(payload: dict[str, Any], path: StoragePath) -> None:
    """The snapshot as people read it: a header naming what it is of, the existing lines (code and
    name, cost type and name, amount, planned change) with the column headings on every page, the lines
    the import would create, totals, and 'Page n of N' at the foot of every page. Reads only the payload,
    so an older snapshot.json renders too (without the parts it lacks)."""
    pdf = _SnapshotPdf.create(payload)
    pdf.first_page()
    mode = payload.get("planned_mode")
    columns = [("Cost code", 0.36, "L"), ("Cost type", 0.17, "L"), ("Amount", 0.14, "R")]
    if mode:
        columns.append(("Planned change", 0.33, "L"))
    else:
        columns = [("Cost code", 0.55, "L"), ("Cost type", 0.25, "L"), ("Amount", 0.20, "R")]
    rows = [
        [named(line.get("cost_code"), line.get("cost_code_description")), named(line.get("cost_type"), line.get("cost_type_name")),
         money(line.get("amount"))] + ([planned_text(line.get("planned"), mode)] if mode else [])
        for line in payload.get("lines") or []
    ]
    pdf.table(columns, rows, total=("Existing total", money(payload.get("total"))))
    if mode:
        creates = payload.get("planned_creates") or []
        pdf.section(f"Lines the import would create ({len(creates)})")
        if creates:
            pdf.table(columns, [[named(c.get("cost_code"), c.get("cost_code_description")), named(c.get("cost_type"), c.get("cost_type_name")),
                                 money(c.get("amount")), "create"] for c in creates],
                      total=("Created total", money(sum((parse_money(c.get("amount")) for c in creates), Decimal(0)))))
        else:
            pdf.note("None: every Spectrum line item already has its line in Procore.")
        pdf.section("Totals")
        pdf.totals([(f"Existing total ({payload.get('line_count', 0)} line items)", money(payload.get("total"))),
                    (f"Total after the import ({payload.get('line_count_after', '?')} line items)", money(payload.get("total_after"))),
                    ("Difference", signed_money(payload.get("difference")) or "$0.00")])
    write_bytes(path, pdf.output())  # the PDF's bytes through the path: atomic, local or on an object store


def _shown_characters(payload: Mapping[str, Any]) -> set[str]:
    """Every character of the text fields the PDF shows (as cut for display), to know the fonts it needs."""
    shown = {ch for key in (*DISPLAY_KEYS, "run_id", "restore_of") for ch in display(payload.get(key), 120)}
    for line in list(payload.get("lines") or []) + list(payload.get("planned_creates") or []):
        for key in ("cost_code", "cost_type", "cost_code_description", "cost_type_name"):
            shown.update(display(line.get(key)))
        shown.update(display((line.get("planned") or {}).get("note")))
    return {ch for ch in shown if not ch.isspace()}


def _fpdf_class() -> type[FPDF]:
    # imported when a PDF is made: DAG files import this module at parse time
    from fpdf import FPDF

    return FPDF


class _SnapshotPdf:
    """fpdf2's FPDF with this report's running header, footer and a table that wraps long cells,
    keeps each row on one page and repeats its headings on every page."""

    def __init__(self, pdf: FPDF, payload: Mapping[str, Any], unicode: bool, bold: str) -> None:
        self.pdf, self.payload, self.unicode, self.bold = pdf, payload, unicode, bold
        self._covered: dict[str, bool] = {}
        self._widths: dict[tuple[str, str, float], float] = {}
        self._cmaps = [font.cmap for key, font in pdf.fonts.items() if hasattr(font, "cmap") and key.startswith(("body", "fallback"))]
        self._headings: tuple[list[tuple[str, float, str]], list[float]] | None = None

    @classmethod
    def create(cls, payload: Mapping[str, Any]) -> _SnapshotPdf:
        holder: dict[str, _SnapshotPdf] = {}

        class Page(_fpdf_class()):  # type: ignore[misc]
            def header(self) -> None:
                if self.page_no() > 1:
                    holder["report"].running_header()

            def footer(self) -> None:
                holder["report"].footer()

        # fontTools logs some 30 INFO lines each time fpdf2 subsets a font: noise in every task log
        logging.getLogger("fontTools.subset").setLevel(logging.WARNING)
        pdf = Page(orientation="P", unit="mm", format="Letter")
        pdf.set_margins(PAGE_MARGIN, PAGE_MARGIN, PAGE_MARGIN)
        pdf.set_auto_page_break(auto=True, margin=15)
        pdf.alias_nb_pages()
        unicode = UNICODE_FONT.is_file()
        bold = ""
        if unicode:
            pdf.add_font("Body", "", str(UNICODE_FONT))
            if UNICODE_BOLD_FONT.is_file():
                pdf.add_font("Body", "B", str(UNICODE_BOLD_FONT))
                bold = "B"
            body = pdf.fonts["body"].cmap
            if any(ord(ch) not in body for ch in _shown_characters(payload)):  # parsing a CJK font costs a second: only when needed
                fallbacks = [f"Fallback{i}" for i in range(len(FALLBACK_FONTS))]
                for name, font in zip(fallbacks, FALLBACK_FONTS, strict=True):
                    if font.is_file():
                        pdf.add_font(name, "", str(font))
                if installed := [name for name in fallbacks if name.lower() in pdf.fonts]:
                    pdf.set_fallback_fonts(installed, exact_match=False)
        else:
            bold = "B"
        report = cls(pdf, payload, unicode, bold)
        holder["report"] = report
        return report

    # text
    @property
    def font(self) -> str:
        return "Body" if self.unicode else "Helvetica"

    def text(self, value: Any) -> str:
        """Text the fonts can draw: a character no loaded font has is '?' (as the core font's Latin-1)."""
        s = str(value if value is not None else "")
        if not self.unicode:
            s = s.replace(ELLIPSIS, "...").replace("·", "-").replace("—", "-")
            return s.encode("latin-1", "replace").decode("latin-1")
        return "".join(ch if self._has_glyph(ch) else "?" for ch in s)

    def _has_glyph(self, ch: str) -> bool:
        known = self._covered.get(ch)
        if known is None:
            known = self._covered[ch] = ch.isspace() or any(ord(ch) in cmap for cmap in self._cmaps)
        return known

    def set_font(self, size: float, bold: bool = False) -> None:
        self.pdf.set_font(self.font, self.bold if bold else "", size=size)

    def width(self, text: str) -> float:
        """Width in mm at the current font (words repeat from line to line: measured once each)."""
        key = (text, self.pdf.font_style, self.pdf.font_size_pt)
        known = self._widths.get(key)
        if known is None:
            known = self._widths[key] = self.pdf.get_string_width(text)
        return known

    def fit(self, text: str, width: float) -> str:
        """The text cut with '…' to fit one line of `width` mm."""
        room = width - 2 * self.pdf.c_margin
        if self.pdf.get_string_width(text) <= room:
            return text
        dots = self.text(ELLIPSIS)
        while text and self.pdf.get_string_width(text + dots) > room:
            text = text[: max(len(text) - max(len(text) // 8, 1), 0)]
        return text.rstrip() + dots

    def wrap(self, text: str, width: float) -> list[str]:
        """The text in lines of `width` mm, at most MAX_CELL_LINES (the last cut with '…'): words kept
        whole when they fit, a longer word split. Measured word by word (fpdf2's multi_cell costs about a
        millisecond a cell: seconds for a long budget)."""
        room = width - 2 * self.pdf.c_margin
        if self.width(text) <= room:
            return [text]
        space = self.width(" ")
        lines: list[str] = []
        current, used = "", 0.0
        for word in text.split(" "):
            word_w = self.width(word)
            if current and used + space + word_w <= room:
                current, used = f"{current} {word}", used + space + word_w
                continue
            if current:
                lines.append(current)
            while word_w > room and len(word) > 1:  # wider than the cell: split it where a line is full
                cut = self._fitting_prefix(word, room)
                lines.append(word[:cut])
                word = word[cut:]
                word_w = self.width(word)
            current, used = word, word_w
        lines.append(current)
        if len(lines) > MAX_CELL_LINES:
            lines = lines[: MAX_CELL_LINES - 1] + [self.fit(" ".join(lines[MAX_CELL_LINES - 1:]), width)]
        return lines

    def _fitting_prefix(self, word: str, room: float) -> int:
        """How many characters of `word` fit in `room` mm (at least one)."""
        cut = max(1, min(len(word) - 1, int(len(word) * room / max(self.width(word), 0.001))))
        while cut > 1 and self.pdf.get_string_width(word[:cut]) > room:
            cut -= 1
        while cut + 1 < len(word) and self.pdf.get_string_width(word[: cut + 1]) <= room:
            cut += 1
        return cut

    # page furniture
    def first_page(self) -> None:
        """The first page opens with the whole header: what the snapshot is of, when, and the plan."""
        pdf = self.pdf
        pdf.add_page()
        self.set_font(14, bold=True)
        pdf.cell(0, 8, self.fit(self.text(_title(self.payload)), pdf.epw), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
        label_w = 38.0
        for label, value in _header_fields(self.payload):
            self.set_font(9, bold=True)
            pdf.cell(label_w, 5, self.text(label))
            self.set_font(9)
            pdf.cell(pdf.epw - label_w, 5, self.fit(self.text(value), pdf.epw - label_w), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)

    def running_header(self) -> None:
        """Pages after the first say what they are of (a loose page still names its job and project)."""
        p, pdf = self.payload, self.pdf
        self.set_font(8)
        project = display(p.get("procore_project_name")) or f"project id {p.get('project_id')}"
        line = f"{_title(p)}  ·  Spectrum job {display(p.get('company_code'), 20)}/{display(p.get('job_number'), 30)}  ·  Procore {project}"
        pdf.cell(0, 5, self.fit(self.text(line), pdf.epw), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
        if self._headings:
            self._draw_headings(*self._headings)

    def footer(self) -> None:
        pdf, p = self.pdf, self.payload
        pdf.set_y(-12)
        self.set_font(7)
        run = display(p.get("run_id") or "(not recorded)", 80)
        left = f"Spectrum job {display(p.get('company_code'), 20)}/{display(p.get('job_number'), 30)}  ·  run {run}"
        pdf.cell(pdf.epw * 0.75, 5, self.fit(self.text(left), pdf.epw * 0.75))
        pdf.cell(pdf.epw * 0.25, 5, f"Page {pdf.page_no()} of {{nb}}", align="R")

    def section(self, heading: str) -> None:
        self.pdf.ln(4)
        self._room_for(6 + 2 * LINE_H)
        self.set_font(11, bold=True)
        self.pdf.cell(0, 6, self.fit(self.text(heading), self.pdf.epw), new_x="LMARGIN", new_y="NEXT")

    def note(self, message: str) -> None:
        self.set_font(9)
        self.pdf.cell(0, 5, self.fit(self.text(message), self.pdf.epw), new_x="LMARGIN", new_y="NEXT")

    def totals(self, rows: list[tuple[str, str]]) -> None:
        self._room_for(len(rows) * 6)
        for label, amount in rows:
            self.set_font(10, bold=label == "Difference")
            self.pdf.cell(110, 6, self.fit(self.text(label), 110), border="B")
            self.pdf.cell(50, 6, self.text(amount), border="B", align="R", new_x="LMARGIN", new_y="NEXT")

    # tables
    def table(self, columns: list[tuple[str, float, str]], rows: Iterable[list[str]], total: tuple[str, str] | None = None) -> None:
        pdf = self.pdf
        widths = [pdf.epw * share for _, share, _ in columns]
        widths[-1] = pdf.epw - sum(widths[:-1])
        self._room_for(7 + LINE_H + 2)
        self._headings = (columns, widths)
        self._draw_headings(columns, widths)
        self.set_font(8)
        for row in rows:
            cells = [self.wrap(self.text(value), width) for value, width in zip(row, widths, strict=True)]
            height = max(len(lines) for lines in cells) * LINE_H + 2
            if pdf.get_y() + height > pdf.page_break_trigger:
                pdf.add_page()  # the running header draws the headings again
                self.set_font(8)
            self._draw_row(cells, widths, [align for _, _, align in columns], height)
        self._headings = None
        if total:
            self._room_for(7)
            self.set_font(9, bold=True)
            pdf.cell(sum(widths[:2]), 7, self.text(total[0]), border=1)
            pdf.cell(widths[2], 7, self.text(total[1]), border=1, align="R")
            if len(widths) > 3:
                pdf.cell(sum(widths[3:]), 7, "", border=1)
            pdf.ln()

    def _draw_headings(self, columns: list[tuple[str, float, str]], widths: list[float]) -> None:
        self.set_font(9, bold=True)
        self.pdf.set_fill_color(230, 230, 230)
        for (heading, _, _), width in zip(columns, widths, strict=True):
            self.pdf.cell(width, 7, self.text(heading), border=1, align="C", fill=True)
        self.pdf.ln()
        self.set_font(8)

    def _draw_row(self, cells: list[list[str]], widths: list[float], aligns: list[str], height: float) -> None:
        pdf = self.pdf
        x, y = pdf.l_margin, pdf.get_y()
        for lines, width, align in zip(cells, widths, aligns, strict=True):
            pdf.rect(x, y, width, height)
            for i, line in enumerate(lines):
                pdf.set_xy(x, y + 1 + i * LINE_H)
                pdf.cell(width, LINE_H, line, align=align)
            x += width
        pdf.set_xy(pdf.l_margin, y + height)

    def _room_for(self, height: float) -> None:
        if self.pdf.get_y() + height > self.pdf.page_break_trigger:
            self.pdf.add_page()

    def output(self) -> bytes:
        return bytes(self.pdf.output())


# --- restore -------------------------------------------------------------------------------------
def snapshot_lines(payload: dict[str, Any]) -> list[DesiredLine]:
    return [DesiredLine(cost_code=line["cost_code"], cost_type=line["cost_type"], amount=parse_money(line["amount"])) for line in payload["lines"]]


def restore(loader: BudgetLoader, snapshot_path: StoragePath) -> LoadOutcome:
    """Put a snapshot back exactly: Procore's budget ends equal to the snapshot (an override to it). A
    cost code or line item type it must create again gets the name the snapshot knew, else its code."""
    payload = read_json(snapshot_path)
    if int(payload["project_id"]) != loader.target.project_id:
        raise ValueError(f"snapshot is of project {payload['project_id']}, not {loader.target.project_id}")
    desired = snapshot_lines(payload)
    names = line_names(payload)
    loader.ensure_line_item_types({line.cost_type: names["cost_types"].get(line.cost_type, line.cost_type) for line in desired})
    loader.ensure_cost_codes({line.cost_code: names["cost_codes"].get(line.cost_code, line.cost_code) for line in desired})
    return loader.apply(desired, "override")
