"""The sample Spectrum schema: ONE definition, DDL for four SQL dialects.

Table and column names are Spectrum's own (seen in an INFORMATION_SCHEMA dump of a live Spectrum
database). Types follow Spectrum's conventions: keys are varchar, money/hours/quantities decimal.
Two columns are ASSUMED (no public source documents them) and are marked so below:
``JC_JOB_MASTER_MC.Lock_Estimate_Entry`` and ``JC_PHASE_ESTIMATES_MC.Posted_Status``.

Dialects: ``tsql`` (SQL Server, what Spectrum runs on), ``postgresql``, ``mariadb``, ``sqlite``.
Identifiers are left unquoted everywhere, so the same query text works on every engine
(PostgreSQL folds them to lower case; queries written unquoted still match).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

DIALECTS = ("tsql", "postgresql", "mariadb", "sqlite")

# Money, hours and quantities: DECIMAL(15,4), so amounts with more than two decimals can exist.
MONEY = (15, 4)
MEASURE = (15, 4)

# SQL Server: free-text columns get a UTF-8 collation (SQL Server 2019+) so that non-ASCII sample text
# ('Béton coulé — niveau 2', '電気') survives in a varchar column. Real Spectrum databases use the
# server's default collation; this is a property of the sample only.
TSQL_TEXT_COLLATION = "Latin1_General_100_CI_AS_SC_UTF8"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "varchar" | "decimal"
    size: int | tuple[int, int]  # varchar length, or (precision, scale)
    nullable: bool = True
    text: bool = False  # free text (may hold non-ASCII): UTF-8 collation on SQL Server
    comment: str = ""

    @property
    def precision(self) -> int:
        assert self.kind == "decimal"
        return self.size[0]  # type: ignore[index]

    @property
    def scale(self) -> int:
        assert self.kind == "decimal"
        return self.size[1]  # type: ignore[index]


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    indexes: tuple[Index, ...] = ()
    comment: str = ""
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _v(name: str, length: int, nullable: bool = True, **kw) -> Column:
    return Column(name, "varchar", length, nullable, **kw)


def _d(name: str, size: tuple[int, int] = MONEY, nullable: bool = True, **kw) -> Column:
    return Column(name, "decimal", size, nullable, **kw)


COMPANY = _v("Company_Code", 3, False)
JOB = _v("Job_Number", 10, False, comment="space-padded on the left, e.g. '     19.50'")

JC_JOB_MASTER_MC = Table(
    "JC_JOB_MASTER_MC",
    (
        COMPANY,
        JOB,
        _v("Master_Job", 10, comment="padded like Job_Number; NULL when the job has no master job"),
        _v("Job_Description", 25, text=True),
        _v("Status_Code", 1, comment="A active, I inactive, C closed"),
        _v("Price_Method_Code", 1),
        _d("Original_Contract"),
        _v("Cost_Center", 10),
        _v("Lock_Revenue_Entry", 1),
        _v("Lock_Estimate_Entry", 1,
           comment="ASSUMED column: 'Y' = budget finalized and locked (no public source documents one)"),
    ),
    primary_key=("Company_Code", "Job_Number"),
    comment="Jobs (real table and columns, except the assumed Lock_Estimate_Entry).",
)

JC_PHASE_MASTER_MC = Table(
    "JC_PHASE_MASTER_MC",
    (
        COMPANY,
        JOB,
        _v("Phase_Code", 20, False),
        _v("Cost_Type", 3, False),
        _v("Description", 60, text=True,
           comment="Spectrum declares varchar(25); widened in the sample so over-long descriptions can be carried"),
        _v("Status_Code", 1),
        _v("Unit_of_Measure", 3),
        _d("Original_Est_Quantity", MEASURE),
        _d("Original_Est_Cost", comment="the budget amount imported; = SUM of the line's posted estimate entries"),
        _d("Original_Est_Hours", MEASURE),
        _d("Est_Unit_Cost"),
        _v("Projected_Cost_Code", 1),
        _v("Phase_Cost_Center", 10),
    ),
    primary_key=(),  # deliberately none: dirty data has duplicate keys
    indexes=(Index("IX_JC_PHASE_MASTER_MC_JOB", ("Company_Code", "Job_Number")),),
    comment="One row per company/job/phase/cost type in clean data. No primary key, so duplicates can exist.",
)

JC_TRANSACTION_HISTORY_MC = Table(
    "JC_TRANSACTION_HISTORY_MC",
    (
        COMPANY,
        JOB,
        _v("Phase_Code", 20, False),
        _v("Cost_Type", 3, False),
        _v("Tran_Type_Code", 2),
        _v("Tran_Date_Text", 8, comment="YYYYMMDD"),
        _d("Tran_Amount"),
        _d("Total_Hours", MEASURE),
        _d("Quantity", MEASURE),
        _v("Batch_Code", 10),
    ),
    indexes=(Index("IX_JC_TRANSACTION_HISTORY_MC_JOB", ("Company_Code", "Job_Number")),),
    comment="Cost transactions. Job-to-date cost of a line = SUM(Tran_Amount).",
)

JC_COST_TYPE_MASTER_MC = Table(
    "JC_COST_TYPE_MASTER_MC",
    (
        COMPANY,
        _v("Cost_Type", 3, False),
        _v("Description", 25, text=True),
    ),
    primary_key=("Company_Code", "Cost_Type"),
    comment="Cost types each company defines (L/M/S/E/O, 1/2/3/4, ...). Columns inferred.",
)

JC_PHASE_ESTIMATES_MC = Table(
    "JC_PHASE_ESTIMATES_MC",
    (
        COMPANY,
        JOB,
        _v("Phase_Code", 20, False),
        _v("Cost_Type", 3, False),
        _v("Batch_Code", 10),
        _v("Tran_Date_Text", 8, comment="YYYYMMDD"),
        _d("Est_Cost"),
        _d("Est_Hours", MEASURE),
        _d("Est_Quantity", MEASURE),
        _v("Posted_Status", 1,
           comment="ASSUMED column: 'P' posted, 'U' unposted batch (no public source documents one)"),
    ),
    indexes=(Index("IX_JC_PHASE_ESTIMATES_MC_JOB", ("Company_Code", "Job_Number")),),
    comment="Estimate entries. Real table name; Est_Cost/Est_Quantity/Batch_Code/Tran_Date_Text inferred.",
)

# Creation/load order (no foreign keys, but this is the natural order).
TABLES: tuple[Table, ...] = (
    JC_COST_TYPE_MASTER_MC,
    JC_JOB_MASTER_MC,
    JC_PHASE_MASTER_MC,
    JC_PHASE_ESTIMATES_MC,
    JC_TRANSACTION_HISTORY_MC,
)
TABLES_BY_NAME = {t.name: t for t in TABLES}


def _check(dialect: str) -> None:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; choose one of {', '.join(DIALECTS)}")


def column_type(col: Column, dialect: str) -> str:
    _check(dialect)
    if col.kind == "varchar":
        t = f"VARCHAR({col.size})"
        if dialect == "tsql" and col.text:
            t += f" COLLATE {TSQL_TEXT_COLLATION}"
        return t
    p, s = col.size  # type: ignore[misc]
    return f"NUMERIC({p},{s})" if dialect == "postgresql" else f"DECIMAL({p},{s})"


def drop_table_sql(table: Table, dialect: str) -> str:
    _check(dialect)
    return f"DROP TABLE IF EXISTS {table.name}"


def create_table_sql(table: Table, dialect: str) -> str:
    _check(dialect)
    lines = []
    for c in table.columns:
        line = f"    {c.name} {column_type(c, dialect)}{'' if c.nullable else ' NOT NULL'}"
        lines.append(line)
    if table.primary_key:
        lines.append(f"    CONSTRAINT PK_{table.name} PRIMARY KEY ({', '.join(table.primary_key)})")
    body = ",\n".join(lines)
    suffix = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" if dialect == "mariadb" else ""
    return f"CREATE TABLE {table.name} (\n{body}\n){suffix}"


def create_index_sqls(table: Table, dialect: str) -> list[str]:
    _check(dialect)
    return [f"CREATE INDEX {ix.name} ON {table.name} ({', '.join(ix.columns)})" for ix in table.indexes]


def statements(dialect: str, *, indexes: bool = True, tables: tuple[Table, ...] = TABLES) -> list[str]:
    """Executable statements (no trailing semicolons): drop, create, [index] for every table."""
    out: list[str] = []
    for t in tables:
        out.append(drop_table_sql(t, dialect))
        out.append(create_table_sql(t, dialect))
        if indexes:
            out.extend(create_index_sqls(t, dialect))
    return out


def _comment_block(text: str) -> list[str]:
    return [f"-- {line}".rstrip() for line in text.splitlines()]


def ddl(dialect: str) -> str:
    """A commented DDL script for ``dialect`` (drop-and-recreate; statements end with ';')."""
    _check(dialect)
    out = _comment_block(
        f"Sample Viewpoint Spectrum schema, dialect {dialect}.\n"
        "Generated by `python -m standins.spectrum_sample ddl --dialect "
        f"{dialect}` from standins/spectrum_sample/schema.py: do not edit by hand.\n"
        "ASSUMED columns (no public source): JC_JOB_MASTER_MC.Lock_Estimate_Entry, "
        "JC_PHASE_ESTIMATES_MC.Posted_Status."
    )
    if dialect == "tsql":
        out += _comment_block(
            f"Free-text columns use the UTF-8 collation {TSQL_TEXT_COLLATION} (SQL Server 2019+)\n"
            "so the sample's non-ASCII text fits in varchar columns."
        )
    for t in TABLES:
        out.append("")
        out += _comment_block(f"{t.name}: {t.comment}")
        for c in t.columns:
            if c.comment:
                out += _comment_block(f"  {c.name}: {c.comment}")
        out.append(drop_table_sql(t, dialect) + ";")
        out.append(create_table_sql(t, dialect) + ";")
        for s in create_index_sqls(t, dialect):
            out.append(s + ";")
    return "\n".join(out) + "\n"


def sql_literal(value: object, dialect: str) -> str:
    """A SQL literal for a sample value (str, Decimal, int or None)."""
    if value is None:
        return "NULL"
    if isinstance(value, (Decimal, int)):
        return str(value)
    if isinstance(value, str):
        body = value.replace("'", "''")
        if dialect == "mariadb":
            body = body.replace("\\", "\\\\")
        prefix = "N" if dialect == "tsql" and not value.isascii() else ""
        return f"{prefix}'{body}'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")
