-- A read-only SQL login for the pipeline, like the Info-Link login a Spectrum administrator hands out.
-- sqlcmd scripting variable: READER_PASSWORD (passed with -v by seed-spectrum.sh).
IF SUSER_ID(N'spectrum_reader') IS NULL
    CREATE LOGIN spectrum_reader WITH PASSWORD = N'$(READER_PASSWORD)', CHECK_POLICY = OFF;
ELSE
    ALTER LOGIN spectrum_reader WITH PASSWORD = N'$(READER_PASSWORD)';
GO
IF USER_ID(N'spectrum_reader') IS NULL
    CREATE USER spectrum_reader FOR LOGIN spectrum_reader;
GO
ALTER ROLE db_datareader ADD MEMBER spectrum_reader;
GO
