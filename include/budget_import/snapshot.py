"""Snapshot of a Procore budget before an override changes it, and the restore that puts it back.

The snapshot is JSON (exact amounts as text, what restore reads) and a PDF of the existing line items
for people deciding between override and additive, as Procore's own import offers.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from include.budget_import.artifacts import read_json, write_json
from include.budget_import.load import BudgetLoader, LoadOutcome
from include.budget_import.money import money_text, parse_money
from include.budget_import.plan import DesiredLine, ExistingLine

SNAPSHOT_JSON = "snapshot.json"
SNAPSHOT_PDF = "snapshot.pdf"
UNICODE_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def snapshot_label(ready: dict[str, Any]) -> dict[str, Any]:
    """Which job and Procore project a snapshot is of (what restore checks before writing it back)."""
    return {k: ready[k] for k in ("company_code", "job_number", "procore_company_id")} | {"project_id": ready["procore_project_id"]}


def snapshot_payload(label: dict[str, Any], lines: list[ExistingLine], taken_at: str) -> dict[str, Any]:
    return {
        **label,
        "taken_at": taken_at,
        "line_count": len(lines),
        "total": money_text(sum((line.amount for line in lines), Decimal(0))),
        "lines": [{"id": line.id, "cost_code": line.cost_code, "cost_type": line.cost_type, "amount": money_text(line.amount)} for line in lines],
    }


def write_snapshot(folder: Path, payload: dict[str, Any]) -> tuple[Path, Path]:
    json_path = write_json(folder / SNAPSHOT_JSON, payload)
    pdf_path = folder / SNAPSHOT_PDF
    render_pdf(payload, pdf_path)
    return json_path, pdf_path


def render_pdf(payload: dict[str, Any], path: Path) -> None:
    """A one-table PDF of the budget lines (cost code, cost type, original budget amount) and total."""
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="Letter")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    if UNICODE_FONT.is_file():
        pdf.add_font("Body", "", str(UNICODE_FONT))
        font = "Body"
    else:  # core font: Latin-1 only
        font = "Helvetica"

    def text(value: Any) -> str:
        s = str(value if value is not None else "")
        return s if font == "Body" else s.encode("latin-1", "replace").decode("latin-1")

    pdf.set_font(font, size=14)
    pdf.cell(0, 8, text(f"Procore budget before override - project {payload.get('project_id')}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(font, size=9)
    pdf.cell(0, 5, text(f"Spectrum job {payload.get('company_code')}/{payload.get('job_number')}  -  taken {payload.get('taken_at')}"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 5, text(f"{payload['line_count']} budget line items, total {payload['total']}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    widths = (60, 50, 60)
    pdf.set_font(font, size=10)
    for heading, width in zip(("Cost code", "Cost type", "Original budget amount"), widths):
        pdf.cell(width, 7, heading, border=1, align="C")
    pdf.ln()
    for line in payload["lines"]:
        pdf.cell(widths[0], 6, text(line["cost_code"]), border=1)
        pdf.cell(widths[1], 6, text(line["cost_type"]), border=1)
        pdf.cell(widths[2], 6, f"{Decimal(line['amount']):,.2f}", border=1, align="R")
        pdf.ln()
    pdf.cell(widths[0] + widths[1], 7, "Total", border=1)
    pdf.cell(widths[2], 7, f"{Decimal(payload['total']):,.2f}", border=1, align="R")
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))


def snapshot_lines(payload: dict[str, Any]) -> list[DesiredLine]:
    return [DesiredLine(cost_code=line["cost_code"], cost_type=line["cost_type"], amount=parse_money(line["amount"])) for line in payload["lines"]]


def restore(loader: BudgetLoader, snapshot_path: Path) -> LoadOutcome:
    """Put a snapshot back exactly: Procore's budget ends equal to the snapshot (an override to it)."""
    payload = read_json(snapshot_path)
    if int(payload["project_id"]) != loader.target.project_id:
        raise ValueError(f"snapshot is of project {payload['project_id']}, not {loader.target.project_id}")
    desired = snapshot_lines(payload)
    needed_types = {line.cost_type: line.cost_type for line in desired}
    loader.ensure_line_item_types({code: name for code, name in needed_types.items()})
    loader.ensure_cost_codes({line.cost_code: line.cost_code for line in desired})
    return loader.apply(desired, "override")
