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
