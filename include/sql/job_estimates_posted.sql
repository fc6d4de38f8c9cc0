-- RULE "estimate entries are posted" (Procore prerequisite). SITE-ADAPTABLE.
-- No public source documents how Spectrum marks an estimate entry as posted. This default assumes
-- estimate entries live in JC_PHASE_ESTIMATES_MC with Posted_Status = 'P' once posted, so a job is
-- ready only when it has no entry in another state. A site whose Spectrum keeps unposted batches
-- elsewhere changes this one file; it must keep returning one row with Unposted_Entries.
-- Parameters: company code, job number as stored.
SELECT COUNT(*) AS Unposted_Entries
FROM JC_PHASE_ESTIMATES_MC e
WHERE e.Company_Code = ?
  AND e.Job_Number = ?
  AND (e.Posted_Status IS NULL OR e.Posted_Status <> 'P')
