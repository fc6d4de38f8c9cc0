-- RULE "the budget is finalized and locked in Spectrum" (Procore prerequisite). SITE-ADAPTABLE.
-- Spectrum's public schema shows only Lock_Revenue_Entry; this default assumes a sibling column
-- Lock_Estimate_Entry on JC_JOB_MASTER_MC that is 'Y' once the estimate (budget) is locked.
-- A site changes this one file; it must keep returning one row with Budget_Locked ('Y' or not).
-- Parameters: company code, job number as stored.
SELECT j.Lock_Estimate_Entry AS Budget_Locked
FROM JC_JOB_MASTER_MC j
WHERE j.Company_Code = ?
  AND j.Job_Number = ?
