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
-- rule: how each job's number is stored in the company's cost transactions (where budget_lines.sql seeks a job's job-to-date cost)
-- Every stored form of a job number in the company's cost transactions, once each, in the database's own
-- order. The transaction table may pad a job's number otherwise than the job master ('19.50' beside
-- '     19.50'), so budget_lines.sql cannot seek it by the master's form; Python groups these forms by key
-- (spectrum_source.fold_key) and gives budget_lines.sql each job's first and last form in this order, a
-- range of the (Company_Code, Job_Number) index that holds all of them. Read once per company and batch
-- of jobs: an index-only read (SQLite skips through the index: 1 ms for 636,000 transactions), where
-- filtering the transactions of every job by its trimmed number read all of the company's transactions
-- for each job. Order by the stored column itself, so the order is the one the range comparison uses.
-- Returns: Job_Number (as stored). Parameters: company code.
SELECT DISTINCT h.Job_Number
FROM JC_TRANSACTION_HISTORY_MC h
WHERE h.Company_Code = ?
  AND h.Job_Number IS NOT NULL
ORDER BY h.Job_Number
