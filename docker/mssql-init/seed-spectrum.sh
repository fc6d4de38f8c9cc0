#!/usr/bin/env bash
# Seeds the compose stack's SQL Server with the sample Spectrum database (run by the `mssql-init` service,
# in the SQL Server image, whose sqlcmd lives in /opt/mssql-tools18). Safe to run again: the DDL drops and
# recreates the tables, the login is created once and its password re-set.
#   /seed/ddl   = standins/spectrum_sample/ddl (schema + demo data, T-SQL)
#   /seed/init  = docker/mssql-init (this script, spectrum_reader.sql)
set -euo pipefail
: "${MSSQL_SA_PASSWORD:?MSSQL_SA_PASSWORD is required}"
: "${SPECTRUM_READER_PASSWORD:?SPECTRUM_READER_PASSWORD is required}"
HOST=${MSSQL_HOST:-mssql}
DB=${SPECTRUM_DATABASE:-Spectrum}

# -C: trust the container's self-signed certificate (ODBC 18 encrypts by default); -b: fail on SQL errors;
# -f 65001: the seed files are UTF-8 (job and phase descriptions are not all ASCII).
sql() { /opt/mssql-tools18/bin/sqlcmd -S "$HOST" -U sa -P "$MSSQL_SA_PASSWORD" -C -b -f 65001 "$@"; }

for attempt in $(seq 1 60); do
  if sql -Q "SET NOCOUNT ON; SELECT 1" -h -1 >/dev/null 2>&1; then break; fi
  if [ "$attempt" -eq 60 ]; then echo "mssql-init: SQL Server on $HOST did not answer" >&2; exit 1; fi
  sleep 2
done

echo "mssql-init: database $DB"
sql -Q "IF DB_ID(N'$DB') IS NULL CREATE DATABASE [$DB] COLLATE Latin1_General_100_CI_AS_SC_UTF8;"
echo "mssql-init: schema (spectrum_tsql.sql)"
sql -d "$DB" -i /seed/ddl/spectrum_tsql.sql
echo "mssql-init: demo data (spectrum_demo_data_tsql.sql)"
sql -d "$DB" -i /seed/ddl/spectrum_demo_data_tsql.sql
echo "mssql-init: read-only login spectrum_reader (as Spectrum's Info-Link login would be)"
sql -d "$DB" -i /seed/init/spectrum_reader.sql -v READER_PASSWORD="$SPECTRUM_READER_PASSWORD"
sql -d "$DB" -h -1 -Q "SET NOCOUNT ON; SELECT CONCAT('mssql-init: ', COUNT(*), ' jobs in JC_JOB_MASTER_MC') FROM JC_JOB_MASTER_MC;"
