-- The cost types a company defines (each company has its own codes: L/M/S/E/O, 1/2/3, ...).
-- Parameters: company code.
SELECT c.Cost_Type, c.Description
FROM JC_COST_TYPE_MASTER_MC c
WHERE c.Company_Code = ?
ORDER BY c.Cost_Type
