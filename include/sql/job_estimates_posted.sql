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
-- rule: estimate entries are posted (Procore prerequisite; default: no JC_PHASE_ESTIMATES_MC row with Posted_Status other than 'P'; SITE-ADAPTABLE)
-- RULE "estimate entries are posted" (Procore prerequisite). SITE-ADAPTABLE.
-- No public source documents how Spectrum marks an estimate entry as posted. This default assumes
-- estimate entries live in JC_PHASE_ESTIMATES_MC with Posted_Status = 'P' once posted, so a job is
-- ready only when it has no entry in another state. Posted_Status is read as the KEYS rule reads a flag:
-- 'p' and ' P' are posted (SQL Server compares 'p' = 'P'; a raw `<> 'P'` counted 'p' as unposted on
-- SQLite and PostgreSQL); NULL and blank are not. A site whose Spectrum keeps unposted batches
-- elsewhere changes this one file; it must keep returning one row with Unposted_Entries.
-- Parameters: company code, job number as stored.
SELECT COUNT(*) AS Unposted_Entries
FROM JC_PHASE_ESTIMATES_MC e
WHERE e.Company_Code = ?
  AND e.Job_Number = ?
  AND (e.Posted_Status IS NULL OR UPPER(LTRIM(RTRIM(e.Posted_Status))) <> 'P')
