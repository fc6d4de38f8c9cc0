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
-- rule: the jobs a person may have meant when a job number is not found (suggestions)
-- Jobs a person may have meant when find_job found none (job_not_found): every company's jobs whose
-- trimmed, upper-cased number contains the core of the number typed (spectrum_source.job_number_core:
-- no spaces around it, upper case, no leading zeros, no trailing zeros after a decimal point). Python
-- keeps those whose own core is the same (19.5 / 19.50 / 0019.50, a-100 / A-100, in any company) and
-- names the nearest few. One scan of the job master (small), run only for a job that was not found.
-- Parameters: '%' + core + '%' as a LIKE pattern, with %, _, [ and ! in the core escaped by !.
SELECT
    j.Company_Code,
    j.Job_Number,
    j.Master_Job,
    j.Job_Description,
    j.Status_Code
FROM JC_JOB_MASTER_MC j
WHERE UPPER(LTRIM(RTRIM(j.Job_Number))) LIKE ? ESCAPE '!'
ORDER BY j.Company_Code, j.Job_Number
