"""One job's import in its own process, as an Airflow task would run it: `python -m tests.reliability.run_import
--odbc ... --url ... --company 01 --job 19.50 --company-id 1001 --reports DIR --run-id ID [--mode override]`.

The crash test kills it with SIGKILL in the middle of the load; the concurrency test starts several at
once. Prints the job's result as one JSON line on success.
"""
from __future__ import annotations

import argparse
import json
import sys
from contextlib import closing
from pathlib import Path

import pyodbc
import requests

from include.budget_import.artifacts import RunFolder
from include.budget_import.pipeline import JobRequest, import_job
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.client import ProcoreClient


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--odbc", required=True)
    parser.add_argument("--url", required=True, help="Procore (emulator) base URL")
    parser.add_argument("--client-id", default="demo-client")
    parser.add_argument("--client-secret", default="demo-secret")
    parser.add_argument("--company", required=True)
    parser.add_argument("--job", required=True)
    parser.add_argument("--company-id", type=int, required=True)
    parser.add_argument("--mode", default="override")
    parser.add_argument("--reports", required=True)
    parser.add_argument("--run-id", required=True)
    args = parser.parse_args(argv)
    client = ProcoreClient(session=requests.Session(), api_base=args.url, login_url=args.url, client_id=args.client_id,
                           client_secret=args.client_secret, timeout=(5.0, 60.0), max_wait_s=5.0)
    request = JobRequest(args.company, args.job, args.company_id, args.mode)
    folder = RunFolder(args.run_id, root=Path(args.reports)).job(args.company, args.job)
    with closing(pyodbc.connect(args.odbc)) as spectrum:
        result = import_job(spectrum, ProcoreBudgetApi(client), request, folder)
    print(json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
