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
-- rule: the company's cost types (a line's cost type must be one of them: unknown_cost_type)
-- The cost types a company defines (each company has its own codes: L/M/S/E/O, 1/2/3, ...), as stored;
-- Python folds the codes (a phase's 'l' is the company's 'L', as on SQL Server).
-- Parameters: company code.
SELECT c.Cost_Type, c.Description
FROM JC_COST_TYPE_MASTER_MC c
WHERE c.Company_Code = ?
ORDER BY c.Cost_Type
