-- KEYS, the one convention of every file in include/sql/: where raw keys of two tables meet (a join, a
-- grouping of one table by another's key, a filter of one table by a key read from another) or a person's
-- text meets a stored key, both sides are compared as UPPER(LTRIM(RTRIM(x))); flags are read the same way.
-- That is SQL Server's outcome (its default collation ignores trailing spaces and case) plus the project's
-- trim of leading spaces, written out so SQLite and PostgreSQL (raw text) and MariaDB (PAD SPACE, no case)
-- give it too. UPPER folds ASCII letters on every engine (SQLite folds no others); Spectrum's codes are
-- ASCII. A stored key bound from find_job is compared as stored on the job's own master rows, so SQL
-- Server seeks its (Company_Code, Job_Number) index; a company code is compared as the connection maps
-- it. Python folds the keys it reads the same way (spectrum_source.fold_key).
--
-- rule: every phase / cost type of one job with its original estimate and job-to-date cost (the budget lines imported)
-- The budget lines of one job: every phase / cost type with its original estimate and its
-- job-to-date cost (the sum of its cost transactions). Rows are NOT filtered here: the seed's rules
-- (estimate > $0, JTD cost and/or estimate) are applied and reported in Python, so that every row
-- left out is accounted for with its reason. Only what Procore's budget line takes is read: the phase
-- master's Unit_of_Measure, Original_Est_Quantity and Est_Unit_Cost are not (Procore's budget line takes
-- the original estimate, as Procore's own import does), so a bad value there cannot touch a row.
-- Job-to-date cost: the job's transactions, summed per trimmed, upper-cased phase code and cost type,
-- joined to each phase row on the same. Two phase rows that are one key once trimmed and upper-cased each
-- get that key's sum (Python rejects both as duplicate_key). The transaction table may pad the job's
-- number otherwise than the job master, so its transactions are matched on the trimmed, upper-cased number
-- (exact), within the range of stored forms transaction_job_numbers.sql found for the job (its first and
-- last form in the database's order; the master's form twice when it found none): that range lets the
-- engine seek its (Company_Code, Job_Number) index instead of reading every transaction of the company
-- for each job (SQLite, 636,000 transactions: 7 ms a job instead of 139 ms). The range is only a seek: a
-- row inside it of another job is left out by the exact match.
-- Job_To_Date_Cost is returned as text: the SQLite ODBC driver types an expression column by its first
-- row and silently truncates later decimals to integers (15500.125 -> 15500). Text is exact on every
-- engine and Python parses it into a Decimal (money.db_amount).
-- Returns, in this order (spectrum_source.EXTRACT_COLUMNS): Company_Code, Job_Number, Phase_Code,
-- Cost_Type, Description, Original_Est_Cost, Job_To_Date_Cost.
-- Parameters: company code, the job's first and last form in its transactions (transaction_job_numbers.sql),
-- job number as stored in the job master, company code, job number as stored in the job master. (A copy
-- of this file from before its range, with four parameters, still runs, slower: spectrum_source binds it
-- as before.)
SELECT
    p.Company_Code,
    p.Job_Number,
    p.Phase_Code,
    p.Cost_Type,
    p.Description,
    p.Original_Est_Cost,
    CAST(COALESCE(t.Job_To_Date_Cost, 0) AS CHAR(30)) AS Job_To_Date_Cost
FROM JC_PHASE_MASTER_MC p
LEFT JOIN (
    SELECT
        UPPER(LTRIM(RTRIM(h.Phase_Code))) AS Phase_Key,
        UPPER(LTRIM(RTRIM(h.Cost_Type))) AS Cost_Type_Key,
        SUM(h.Tran_Amount) AS Job_To_Date_Cost
    FROM JC_TRANSACTION_HISTORY_MC h
    WHERE h.Company_Code = ?
      AND h.Job_Number BETWEEN ? AND ?
      AND UPPER(LTRIM(RTRIM(h.Job_Number))) = UPPER(LTRIM(RTRIM(?)))
    GROUP BY UPPER(LTRIM(RTRIM(h.Phase_Code))), UPPER(LTRIM(RTRIM(h.Cost_Type)))
) t
    ON t.Phase_Key = UPPER(LTRIM(RTRIM(p.Phase_Code)))
   AND t.Cost_Type_Key = UPPER(LTRIM(RTRIM(p.Cost_Type)))
WHERE p.Company_Code = ?
  AND p.Job_Number = ?
ORDER BY p.Phase_Code, p.Cost_Type
