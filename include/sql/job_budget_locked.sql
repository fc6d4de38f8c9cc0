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
-- rule: the budget is finalized and locked in Spectrum (Procore prerequisite; default: JC_JOB_MASTER_MC.Lock_Estimate_Entry = 'Y'; SITE-ADAPTABLE)
-- RULE "the budget is finalized and locked in Spectrum" (Procore prerequisite). SITE-ADAPTABLE.
-- Spectrum's public schema shows only Lock_Revenue_Entry; this default assumes a sibling column
-- Lock_Estimate_Entry on JC_JOB_MASTER_MC that is 'Y' once the estimate (budget) is locked, read as the
-- KEYS rule reads a flag ('y' and ' Y' are 'Y', as SQL Server compares them).
-- A site changes this one file; it must keep returning one row with Budget_Locked ('Y' or not).
-- Parameters: company code, job number as stored.
SELECT CASE WHEN UPPER(LTRIM(RTRIM(j.Lock_Estimate_Entry))) = 'Y' THEN 'Y' ELSE 'N' END AS Budget_Locked
FROM JC_JOB_MASTER_MC j
WHERE j.Company_Code = ?
  AND j.Job_Number = ?
