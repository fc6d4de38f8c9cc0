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
-- rule: every job of a company with its status (only active jobs import; nightly discovery)
-- Every job of one Spectrum company, as stored (Job_Number is space-padded; Python trims it in one place).
-- Parameters: company code.
SELECT
    j.Company_Code,
    j.Job_Number,
    j.Master_Job,
    j.Job_Description,
    j.Status_Code
FROM JC_JOB_MASTER_MC j
WHERE j.Company_Code = ?
ORDER BY j.Job_Number
