"""The preflight from a shell, with the same Airflow connections as the DAGs (AIRFLOW_CONN_* or the metadata DB):

  python -m scripts.preflight [--company 01 ...]          check everything, print it, write the report (writes nothing else)
  python -m scripts.preflight link --company 01 --job 22.00 --project 2008
                                                        set that Procore project's origin_id to 01|22.00 (the one write)

The report goes where the DAG's does (BUDGET_IMPORT_REPORTS_DIR/preflight/latest.json) and shows on the UI's
Preflight page. Exit status: 0 ok or warnings, 1 a check failed or the link was refused.
"""
from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.preflight", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", nargs="?", choices=("check", "link"), default="check")
    parser.add_argument("--company", action="append", default=[], help="Spectrum company code (check: repeatable; default extra.companies)")
    parser.add_argument("--job", help="link: the Spectrum job number, as people write it (22.00)")
    parser.add_argument("--project", type=int, help="link: the Procore project id")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    from include.budget_import import preflight

    if args.action == "link":
        if len(args.company) != 1 or not args.job or not args.project:
            parser.error("link needs --company, --job and --project")
        try:
            result = preflight.link_project(args.company[0], args.job, args.project)
        except preflight.LinkRefused as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
        print(result["message"])
        return 0
    report = preflight.run_preflight(company_codes=args.company or None)
    path = preflight.write_report(report, run_id="cli__" + report.started_at)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for check in report.checks:
            print(f"[{check.status.upper():7}] {check.title}: {check.message}")
            if check.todo and check.status != preflight.OK:
                print(f"          what to do: {check.todo}")
        for job in report.unlinked:
            best = job["suggestions"][0] if job["suggestions"] else None
            hint = f"project {best['procore_project_id']} {best['name']!r} ({best['why']})" if best else "no matching project"
            print(f"not linked: {job['company_code']}/{job['job_number']} {job['description'] or ''}: set origin_id {job['origin_id']!r}; {hint}; "
                  f"{job['how']['cli']}")
        print(f"preflight {report.status}; report: {path}")
    return 1 if report.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
