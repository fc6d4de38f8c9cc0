-- One job, found by its trimmed number (what a person types), returning the stored, padded key that the
-- other queries use so they can seek on (Company_Code, Job_Number) indexes.
-- Parameters: company code, trimmed job number.
SELECT
    j.Company_Code,
    j.Job_Number,
    j.Master_Job,
    j.Job_Description,
    j.Status_Code
FROM JC_JOB_MASTER_MC j
WHERE j.Company_Code = ?
  AND LTRIM(RTRIM(j.Job_Number)) = ?
