"""The Procore emulator fixture matching a generated sample (format shared with standins/procore_emulator).

One Procore company per Spectrum company (01 -> 1001, 02 -> 1002). A Procore project is linked to a
Spectrum job by ``origin_id`` = "<company code>|<trimmed job number>". Line item types exist for each of
the company's cost types (origin_id "<company code>|<cost type>"), never for cost types missing from
JC_COST_TYPE_MASTER_MC.
"""
from __future__ import annotations

import json
from typing import IO

from .catalog import Company
from .generate import JobBundle


class FixtureBuilder:
    def __init__(self, companies: tuple[Company, ...]):
        self.companies = companies
        self.projects: dict[str, list[dict]] = {c.code: [] for c in companies}

    def add(self, bundle: JobBundle) -> None:
        self.projects[bundle.company.code].extend(bundle.projects)

    def fixture(self) -> dict:
        return {
            "companies": [
                {
                    "id": c.procore_company_id,
                    "name": c.name,
                    "clients": [{"client_id": cl.client_id, "client_secret": cl.client_secret,
                                 "permission": cl.permission} for cl in c.clients],
                    "line_item_types": [{"code": ct.code, "name": ct.description, "base_type": ct.base_type,
                                         "origin_id": f"{c.code}|{ct.code}"} for ct in c.cost_types],
                    "projects": sorted(self.projects[c.code], key=lambda p: p["id"]),
                }
                for c in self.companies
            ]
        }

    def write(self, fh: IO[str]) -> None:
        json.dump(self.fixture(), fh, ensure_ascii=False, indent=1)
        fh.write("\n")
