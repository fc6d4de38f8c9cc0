-- The budget lines of one job: every phase / cost type with its original estimate and its
-- job-to-date cost (the sum of its cost transactions). Rows are NOT filtered here: the seed's rules
-- (estimate > $0, JTD cost and/or estimate) are applied and reported in Python, so that every row
-- left out is accounted for with its reason.
-- Job_To_Date_Cost is returned as text: the SQLite ODBC driver types an expression column by its first
-- row and silently truncates later decimals to integers (15500.125 -> 15500). Text is exact on every
-- engine and Python parses it into a Decimal (money.db_amount).
-- Parameters: company code, job number as stored, company code, job number as stored.
SELECT
    p.Company_Code,
    p.Job_Number,
    p.Phase_Code,
    p.Cost_Type,
    p.Description,
    p.Unit_of_Measure,
    p.Original_Est_Quantity,
    p.Est_Unit_Cost,
    p.Original_Est_Cost,
    CAST(COALESCE(t.Job_To_Date_Cost, 0) AS CHAR(30)) AS Job_To_Date_Cost
FROM JC_PHASE_MASTER_MC p
LEFT JOIN (
    SELECT h.Company_Code, h.Job_Number, h.Phase_Code, h.Cost_Type, SUM(h.Tran_Amount) AS Job_To_Date_Cost
    FROM JC_TRANSACTION_HISTORY_MC h
    WHERE h.Company_Code = ?
      AND h.Job_Number = ?
    GROUP BY h.Company_Code, h.Job_Number, h.Phase_Code, h.Cost_Type
) t
    ON t.Company_Code = p.Company_Code
   AND t.Job_Number = p.Job_Number
   AND t.Phase_Code = p.Phase_Code
   AND t.Cost_Type = p.Cost_Type
WHERE p.Company_Code = ?
  AND p.Job_Number = ?
ORDER BY p.Phase_Code, p.Cost_Type
