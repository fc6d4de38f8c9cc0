"""Compare a loaded database with the manifest (the oracle), through pyodbc."""
from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal


def _dec(value) -> Decimal | None:
    """DECIMAL as a driver returns it (SQLite3 ODBC: str; PostgreSQL/MariaDB: Decimal) -> exact Decimal."""
    if value is None:
        return None
    assert not isinstance(value, float), f"a driver returned a float: {value!r}"
    return Decimal(str(value)) + 0


def _pad(number: str) -> str:
    return number.rjust(10)


def assert_database_matches(con, manifest: dict) -> None:
    cur = con.cursor()
    counts = {}
    for table in manifest["counts"]:
        cur.execute(f"SELECT COUNT(*) FROM {table}")
        counts[table] = int(cur.fetchone()[0])
    assert counts == manifest["counts"]

    cur.execute("SELECT Company_Code, Job_Number, Status_Code, Lock_Estimate_Entry, Master_Job FROM JC_JOB_MASTER_MC")
    jobs = {(r[0], r[1]): r for r in cur.fetchall()}
    in_spectrum = [j for j in manifest["jobs"] if j["in_spectrum"]]
    assert len(jobs) == len(in_spectrum)

    for job in manifest["jobs"]:
        key = (job["company_code"], _pad(job["job_number"]))
        if not job["in_spectrum"]:
            assert key not in jobs
            continue
        row = jobs[key]
        assert row[1] == job["job_number_raw"]
        assert (row[2], row[3]) == (job["status_code"], job["lock_estimate_entry"])
        assert (row[4].strip() if row[4] else None) == job["master_job"]

        cur.execute(
            "SELECT Phase_Code, Cost_Type, Description, Original_Est_Cost FROM JC_PHASE_MASTER_MC "
            "WHERE Company_Code = ? AND Job_Number = ?", key)
        got = Counter((r[0], r[1], r[2], _dec(r[3])) for r in cur.fetchall())
        want = Counter((ln["phase_code_raw"], ln["cost_type_raw"], ln["description_raw"],
                        None if ln["original_estimate"] is None else Decimal(ln["original_estimate"]))
                       for ln in job["lines"])
        assert got == want, f"phase rows of {key} differ"

        cur.execute("SELECT Phase_Code, Cost_Type, Tran_Amount FROM JC_TRANSACTION_HISTORY_MC "
                    "WHERE Company_Code = ? AND Job_Number = ?", key)
        jtd: dict[tuple, Decimal] = defaultdict(Decimal)
        for phase, ct, amount in cur.fetchall():
            jtd[(phase.strip(" "), ct.strip(" "))] += _dec(amount)
        for ln in job["lines"]:
            assert jtd.get((ln["phase_code"], ln["cost_type"]), Decimal(0)) == Decimal(ln["jtd_cost"]), ln

        cur.execute("SELECT COUNT(*) FROM JC_PHASE_ESTIMATES_MC WHERE Company_Code = ? AND Job_Number = ? "
                    "AND Posted_Status <> 'P'", key)
        assert (int(cur.fetchone()[0]) > 0) == job["has_unposted_estimates"]
    cur.close()
