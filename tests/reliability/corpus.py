"""The bad-input corpus: Spectrum rows, job records and run parameters that a real ledger, a damaged
database or a careless (or hostile) user could hand the import, each with the one outcome the README's
rules give it.

Row cases add rows to job 01/19.50 (20 clean lines; Procore project 2001 holds 5 lines already) in a
copy of the demo database, written with Python's sqlite3 so SQLite's loose typing lets text, NaN or
1e400 into DECIMAL columns, as a damaged store could. Job cases change the job's own records; parameter
cases change what the run is asked to do.

Outcomes:
- `rejected` / `skipped` with a reason code: the row is quarantined (rejects.csv); the job's other rows
  load exactly as the oracle says;
- `line_item`: odd but valid data (an apostrophe, an emoji, an injection string that fits the column)
  is loaded verbatim and harms nothing;
- `blocked` with a job rule's reason: nothing is written to Procore;
- `refused` with an exception type and words from its message: nothing is written to Procore.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JOB_RAW = "     19.50"  # JC_*.Job_Number as stored for 01/19.50


def phase_row(**values: Any) -> dict[str, Any]:
    """A JC_PHASE_MASTER_MC row of 01/19.50 with a fine default for every column not given."""
    return {
        "Company_Code": "01", "Job_Number": JOB_RAW, "Phase_Code": "77-100", "Cost_Type": "L", "Description": "Corpus line",
        "Status_Code": "A", "Unit_of_Measure": "LS", "Original_Est_Cost": "1000.00", **values,
    }


def transaction(amount: Any, phase: str = "77-100", cost_type: str = "L") -> dict[str, Any]:
    return {"Company_Code": "01", "Job_Number": JOB_RAW, "Phase_Code": phase, "Cost_Type": cost_type, "Tran_Type_Code": "AP",
            "Tran_Date_Text": "20240105", "Tran_Amount": amount}


@dataclass(frozen=True)
class Case:
    key: str
    what: str
    kind: str  # "row" | "job" | "param"
    expect: str  # "rejected" | "skipped" | "line_item" | "blocked" | "refused" | "synced"
    reasons: tuple[str, ...] = ()  # rows: the reason of each added row (in order); blocked: the job's reason
    rows: tuple[dict[str, Any], ...] = ()
    transactions: tuple[dict[str, Any], ...] = ()
    sql: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)  # company, job, company_id, mode
    loads: dict[str, str] = field(default_factory=dict)  # budget lines the case adds ("phase|type" -> amount)
    removes: tuple[str, ...] = ()  # good lines the README's rules take out of Spectrum's budget
    keeps: tuple[str, ...] = ()  # lines whose Spectrum rows were rejected: override keeps Procore's line as it was
    error: tuple[str, str] = ("", "")  # refused: exception class name, words of its message
    budget: dict[str, str] | None = None  # the whole expected budget, when the case replaces it


INJECTION = "X'; DROP TABLE JC_PHASE_MASTER_MC;--"
SHORT_INJECTION = "1'OR'1'='1"  # 10 characters: fits Spectrum's Phase_Code

ROW_CASES = [
    # --- injection strings in every text column ---------------------------------------------------------
    Case("inject_phase_code_long", "SQL injection in Phase_Code, wider than the column", "row", "rejected", ("malformed_key",),
         (phase_row(Phase_Code=INJECTION),)),
    Case("inject_phase_code_fits", "SQL injection in Phase_Code that fits the column: loaded verbatim", "row", "line_item", (None,),
         (phase_row(Phase_Code=SHORT_INJECTION),), loads={f"{SHORT_INJECTION}|L": "1000.00"}),
    Case("inject_cost_type", "SQL injection in Cost_Type", "row", "rejected", ("malformed_key",), (phase_row(Cost_Type="L';--"),)),
    Case("inject_cost_type_fits", "SQL injection in Cost_Type that fits the column", "row", "rejected", ("unknown_cost_type",), (phase_row(Cost_Type="L';"),)),
    Case("inject_description", "SQL injection in Description (25 characters or fewer): loaded verbatim", "row", "line_item", (None,),
         (phase_row(Phase_Code="77-101", Description="x'); DELETE FROM y;--"),), loads={"77-101|L": "1000.00"}),
    Case("inject_description_long", "SQL injection in Description, over 25 characters", "row", "rejected", ("description_too_long",),
         (phase_row(Description="'; DROP TABLE JC_JOB_MASTER_MC;--"),)),
    Case("html_description", "HTML / script in Description: loaded verbatim as text", "row", "line_item", (None,),
         (phase_row(Phase_Code="77-102", Description="<script>alert(1)</script>"),), loads={"77-102|L": "1000.00"}),
    Case("inject_unit_of_measure", "SQL injection in Unit_of_Measure (not fetched)", "row", "line_item", (None,),
         (phase_row(Phase_Code="77-103", Unit_of_Measure="';--"),), loads={"77-103|L": "1000.00"}),
    Case("inject_company_and_job_columns", "A phase row whose Company_Code / Job_Number hold injection strings is not the job's row", "row", "synced", (),
         (phase_row(Company_Code="01' OR '1'='1", Job_Number="' OR 1=1--"),)),
    # --- wrong types and impossible amounts -----------------------------------------------------------------
    Case("text_estimate", "text in Original_Est_Cost", "row", "rejected", ("amount_invalid",), (phase_row(Original_Est_Cost="abc"),)),
    Case("text_quantity", "text in Original_Est_Quantity, a column the import does not fetch: the row's estimate is imported", "row",
         "line_item", (None,), (phase_row(Phase_Code="77-104", Original_Est_Quantity="abc"),), loads={"77-104|L": "1000.00"}),
    Case("nan_unit_cost", "NaN in Est_Unit_Cost, a column the import does not fetch: the row's estimate is imported", "row",
         "line_item", (None,), (phase_row(Phase_Code="77-105", Est_Unit_Cost="NaN"),), loads={"77-105|L": "1000.00"}),
    Case("nan_estimate", "NaN in Original_Est_Cost", "row", "rejected", ("amount_invalid",), (phase_row(Original_Est_Cost="NaN"),)),
    Case("infinity_estimate", "Infinity in Original_Est_Cost", "row", "rejected", ("amount_invalid",), (phase_row(Original_Est_Cost="Infinity"),)),
    Case("negative_infinity_estimate", "-Infinity in Original_Est_Cost", "row", "rejected", ("amount_invalid",), (phase_row(Original_Est_Cost="-Infinity"),)),
    Case("overflow_estimate", "1e400 in Original_Est_Cost (SQLite stores it as an infinite REAL)", "row", "rejected", ("amount_invalid",),
         (phase_row(Original_Est_Cost="1e400"),)),
    Case("estimate_beyond_decimal_15_4", "an estimate of 100 billion, beyond DECIMAL(15,4)", "row", "rejected", ("amount_invalid",),
         (phase_row(Original_Est_Cost="100000000000.00"),)),
    Case("estimate_beyond_procore", "an estimate of 10**15, which Procore itself refuses", "row", "rejected", ("amount_invalid",),
         (phase_row(Original_Est_Cost="1000000000000000"),)),
    Case("estimate_at_decimal_15_4_max", "the largest two-decimal estimate DECIMAL(15,4) holds: loaded", "row", "line_item", (None,),
         (phase_row(Original_Est_Cost="99999999999.99"),), loads={"77-100|L": "99999999999.99"}),
    Case("thousands_separator", "'1,234.00' in Original_Est_Cost", "row", "rejected", ("amount_invalid",), (phase_row(Original_Est_Cost="1,234.00"),)),
    Case("underscore_digits", "'1_000' in Original_Est_Cost (Python's Decimal takes it; a SQL DECIMAL does not)", "row", "rejected", ("amount_invalid",),
         (phase_row(Original_Est_Cost="1_000"),)),
    Case("arabic_indic_digits", "'\u0661\u0662\u0663' (Arabic-Indic digits) in Original_Est_Cost", "row", "rejected", ("amount_invalid",),
         (phase_row(Original_Est_Cost="\u0661\u0662\u0663"),)),
    Case("megabyte_description",
         "a 1 MB description beside another rejected row: both rows in rejects.csv (the long text cut to a spreadsheet cell), none hidden",
         "row", "rejected", ("description_too_long", "negative_estimate"),
         (phase_row(Description="Crane hire " * 100_000), phase_row(Phase_Code="77-101", Original_Est_Cost="-50.00"))),
    Case("formula_description", "a description '=HYPERLINK(...)': loaded as text; rejects.csv never hands Excel a formula", "row", "rejected",
         ("negative_estimate",), (phase_row(Description='=HYPERLINK("x","y")', Original_Est_Cost="-5.00"),)),
    Case("currency_symbol", "'$100' in Original_Est_Cost", "row", "rejected", ("amount_invalid",), (phase_row(Original_Est_Cost="$100"),)),
    Case("hex_estimate", "'0x10' in Original_Est_Cost", "row", "rejected", ("amount_invalid",), (phase_row(Original_Est_Cost="0x10"),)),
    Case("infinite_jtd", "an infinite REAL Tran_Amount (JTD cost not finite)", "row", "rejected", ("amount_invalid",),
         (phase_row(),), (transaction(float("inf")),)),
    Case("integer_estimate", "an INTEGER-typed estimate (SQLite): exact", "row", "line_item", (None,), (phase_row(Original_Est_Cost=1000),),
         loads={"77-100|L": "1000.00"}),
    Case("real_estimate", "a REAL-typed estimate 0.1 (SQLite float): exact cents, no binary noise", "row", "line_item", (None,),
         (phase_row(Original_Est_Cost=0.1),), loads={"77-100|L": "0.10"}),
    Case("padded_number_text", "' 12.50 ' (spaces around a number as text)", "row", "line_item", (None,), (phase_row(Original_Est_Cost=" 12.50 "),),
         loads={"77-100|L": "12.50"}),
    Case("five_decimals", "'100.00004': rounded to the column's 4 decimals, as DECIMAL(15,4) stores it", "row", "line_item", (None,),
         (phase_row(Original_Est_Cost="100.00004"),), loads={"77-100|L": "100.00"}),
    Case("sub_cent_estimate", "an estimate with digits beyond cents", "row", "rejected", ("amount_precision",), (phase_row(Original_Est_Cost="1234.5675"),)),
    Case("sub_cent_jtd", "a JTD cost with digits beyond cents", "row", "rejected", ("amount_precision",), (phase_row(),), (transaction("10.125"),)),
    Case("negative_estimate", "a negative estimate", "row", "rejected", ("negative_estimate",), (phase_row(Original_Est_Cost="-4200.00"),)),
    Case("negative_zero_estimate", "'-0.0000' and no cost", "row", "skipped", ("no_estimate_or_cost",), (phase_row(Original_Est_Cost="-0.0000"),)),
    Case("empty_string_estimate", "'' in Original_Est_Cost and no cost (read as no estimate)", "row", "skipped", ("no_estimate_or_cost",),
         (phase_row(Original_Est_Cost=""),)),
    Case("null_estimate_with_jtd", "no estimate but a JTD cost", "row", "skipped", ("estimate_not_positive",), (phase_row(Original_Est_Cost=None),),
         (transaction("150.00"),)),
    Case("negative_jtd", "a negative JTD cost (a credit) next to a good estimate", "row", "line_item", (None,), (phase_row(),), (transaction("-150.00"),),
         loads={"77-100|L": "1000.00"}),
    # --- keys -------------------------------------------------------------------------------------------------
    Case("whitespace_phase_code", "a phase code of spaces only", "row", "rejected", ("missing_key",), (phase_row(Phase_Code="   "),)),
    Case("tab_newline_phase_code", "a phase code of a tab and a newline", "row", "rejected", ("missing_key",), (phase_row(Phase_Code="\t\n"),)),
    Case("whitespace_cost_type", "a cost type of spaces only", "row", "rejected", ("missing_key",), (phase_row(Cost_Type="  "),)),
    Case("nbsp_padded_phase_code", "a phase code padded with no-break spaces: trimmed like spaces", "row", "line_item", (None,),
         (phase_row(Phase_Code="\xa077-999\xa0"),), loads={"77-999|L": "1000.00"}),
    Case("control_character_phase_code", "a BEL control character inside a phase code", "row", "rejected", ("malformed_key",),
         (phase_row(Phase_Code="77-1\x0700"),)),
    Case("zero_width_phase_code", "a zero-width space inside a phase code (looks like 01-100)", "row", "rejected", ("malformed_key",),
         (phase_row(Phase_Code="01-1\u200b00"),)),
    Case("very_long_phase_code", "a 200-character phase code", "row", "rejected", ("malformed_key",), (phase_row(Phase_Code="7" * 200),)),
    Case("phase_code_21_characters", "a 21-character phase code (Spectrum's column holds 20)", "row", "rejected", ("malformed_key",),
         (phase_row(Phase_Code="77-" + "1" * 18),)),
    Case("phase_code_20_characters", "a 20-character phase code: loaded", "row", "line_item", (None,), (phase_row(Phase_Code="77-" + "1" * 17),),
         loads={"77-" + "1" * 17 + "|L": "1000.00"}),
    Case("long_cost_type", "a 4-character cost type", "row", "rejected", ("malformed_key",), (phase_row(Cost_Type="LLLL"),)),
    Case("cost_type_other_case", "a cost type in another case ('l' for 'L'): the company's 'L', as SQL Server compares it (issue 15)", "row", "line_item",
         (None,), (phase_row(Cost_Type="l"),), loads={"77-100|L": "1000.00"}),
    Case("emoji_phase_code", "an emoji in a phase code (visible, fits): loaded verbatim", "row", "line_item", (None,),
         (phase_row(Phase_Code="\U0001F3D7-100"),), loads={"\U0001F3D7-100|L": "1000.00"}),
    Case("duplicate_of_a_good_key",
         "a second 01-100|L padded with leading spaces: both copies rejected, and Procore's 01-100|L kept as it was (Spectrum has it; we could not read it)",
         "row", "rejected", ("duplicate_key", "duplicate_key"),
         (phase_row(Phase_Code="  01-100", Original_Est_Cost="5.00"),), removes=("01-100|L",), keeps=("01-100|L",)),
    Case("exact_duplicate_rows", "the same new row twice", "row", "rejected", ("duplicate_key", "duplicate_key"), (phase_row(), phase_row())),
    # --- descriptions -------------------------------------------------------------------------------------------
    Case("emoji_description", "emoji in a description", "row", "line_item", (None,), (phase_row(Description="Crane \U0001F3D7 hire"),),
         loads={"77-100|L": "1000.00"}),
    Case("emoji_description_25", "25 emoji (25 characters, 100 UTF-8 bytes): loaded", "row", "line_item", (None,), (phase_row(Description="\U0001F3D7" * 25),),
         loads={"77-100|L": "1000.00"}),
    Case("emoji_description_26", "26 emoji: over 25 characters", "row", "rejected", ("description_too_long",), (phase_row(Description="\U0001F3D7" * 26),)),
    Case("control_characters_description", "a newline and a tab inside a description (free text)", "row", "line_item", (None,),
         (phase_row(Description="Line\nbreak\ttab"),), loads={"77-100|L": "1000.00"}),
    Case("whitespace_description", "a description of spaces only: the phase code stands in", "row", "line_item", (None,), (phase_row(Description="    "),),
         loads={"77-100|L": "1000.00"}),
]

JOB_WHERE = "Company_Code = '01' AND Job_Number = '     19.50'"
JOB_CASES = [
    Case("status_lower_case_closed", "Status_Code 'c'", "job", "blocked", ("job_closed",),
         sql=(f"UPDATE JC_JOB_MASTER_MC SET Status_Code = 'c' WHERE {JOB_WHERE}",)),
    Case("status_null", "Status_Code NULL", "job", "blocked", ("job_inactive",), sql=(f"UPDATE JC_JOB_MASTER_MC SET Status_Code = NULL WHERE {JOB_WHERE}",)),
    Case("status_unknown", "Status_Code 'X'", "job", "blocked", ("job_inactive",), sql=(f"UPDATE JC_JOB_MASTER_MC SET Status_Code = 'X' WHERE {JOB_WHERE}",)),
    Case("lock_flag_null", "Lock_Estimate_Entry NULL", "job", "blocked", ("budget_not_locked",),
         sql=(f"UPDATE JC_JOB_MASTER_MC SET Lock_Estimate_Entry = NULL WHERE {JOB_WHERE}",)),
    Case("lock_flag_lower_case", "Lock_Estimate_Entry 'y': locked", "job", "synced",
         sql=(f"UPDATE JC_JOB_MASTER_MC SET Lock_Estimate_Entry = 'y' WHERE {JOB_WHERE}",)),
    Case("posted_status_null", "an estimate entry with Posted_Status NULL", "job", "blocked", ("estimates_not_posted",),
         sql=(f"UPDATE JC_PHASE_ESTIMATES_MC SET Posted_Status = NULL WHERE rowid = (SELECT MIN(rowid) FROM JC_PHASE_ESTIMATES_MC WHERE {JOB_WHERE})",)),
    Case("two_jobs_trim_alike", "a second job '19.50     ' next to '     19.50'", "job", "refused",
         sql=("INSERT INTO JC_JOB_MASTER_MC (Company_Code, Job_Number, Job_Description, Status_Code, Lock_Estimate_Entry) "
              "VALUES ('01', '19.50     ', 'Shadow', 'A', 'Y')",),
         error=("SpectrumDataError", "2 jobs numbered '19.50'")),
    Case("job_without_phases", "a job with no phase rows: the override would delete every Procore line, so the job is held for review and nothing is written",
         "job", "blocked", ("needs_review",), sql=(f"DELETE FROM JC_PHASE_MASTER_MC WHERE {JOB_WHERE}",)),
]

PARAM_CASES = [
    Case("unknown_company", "company '99'", "param", "blocked", ("job_not_found",), params={"company": "99"}),
    Case("unknown_job", "job '77.77'", "param", "blocked", ("job_not_found",), params={"job": "77.77"}),
    Case("job_with_spaces", "job ' 19.50 ' (leading and trailing spaces): the same job", "param", "synced", params={"job": " 19.50 "}),
    Case("invalid_merge_mode", "merge_mode 'replace'", "param", "refused", params={"mode": "replace"}, error=("ValueError", "merge_mode must be one of")),
    Case("job_sql_injection", "job \"19.50' OR '1'='1\"", "param", "blocked", ("job_not_found",), params={"job": "19.50' OR '1'='1"}),
    Case("job_drop_table", "job \"'; DROP TABLE JC_JOB_MASTER_MC;--\"", "param", "blocked", ("job_not_found",),
         params={"job": "'; DROP TABLE JC_JOB_MASTER_MC;--"}),
    Case("company_sql_injection", "company \"01' OR '1'='1\"", "param", "blocked", ("job_not_found",), params={"company": "01' OR '1'='1"}),
    Case("empty_job", "job ''", "param", "blocked", ("job_not_found",), params={"job": ""}),
    Case("huge_job_number", "a 10,000-character job number", "param", "blocked", ("job_not_found",), params={"job": "9" * 10_000}),
    Case("nul_in_job_number", "job '19.50\\x00' (the driver would stop at the NUL and find 19.50)", "param", "refused", params={"job": "19.50\x00"},
         error=("ValueError", "without control characters")),
    Case("emoji_job_number", "an emoji job number", "param", "blocked", ("job_not_found",), params={"job": "\U0001F3D7"}),
    Case("procore_company_of_the_other_spectrum_company", "Procore company 1002 for a company-01 job", "param", "blocked", ("not_linked",),
         params={"company_id": 1002}),
    Case("procore_company_not_installed", "a Procore company the app is not installed in", "param", "refused", params={"company_id": 9999},
         error=("ProcorePermissionError", "not connected to this company")),
]

CASES = ROW_CASES + JOB_CASES + PARAM_CASES
assert len({c.key for c in CASES}) == len(CASES), "case keys must be unique"
