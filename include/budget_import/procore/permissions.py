"""May these credentials change a project's budget? Read from Procore's permission manifest.

Procore's import article asks for 'Standard' or higher permission. `GET /rest/v1.0/settings/permissions
?project_id=` lists each tool with the caller's `user_access_level`; the spec does not say which tool
`name` is the Budget tool nor list the level names, so both are guesses kept here (a site whose
manifest differs sets PROCORE_BUDGET_TOOL_NAMES / PROCORE_BUDGET_WRITE_LEVELS, comma-separated).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from include.budget_import.settings import budget_tool_names, budget_write_levels


@dataclass(frozen=True)
class BudgetAccess:
    level: str | None  # the access level Procore names, or None when the manifest has no Budget tool

    @property
    def may_write(self) -> bool:
        return self.level is not None and self.level.strip().lower() in budget_write_levels()

    def why_not(self, project_id: int) -> str:
        if self.level is None:
            names = ", ".join(budget_tool_names())
            return (f"Procore's permission manifest of project {project_id} names no Budget tool ({names}): "
                    "cannot confirm these credentials may change the budget")
        return f"these credentials have {self.level!r} access to the Budget tool of project {project_id}; importing needs Standard or Admin"


def budget_access(tools: list[dict[str, Any]]) -> BudgetAccess:
    names = budget_tool_names()
    for tool in tools:
        if str(tool.get("name") or "").lower() in names:
            level = tool.get("user_access_level")
            name = level.get("name") if isinstance(level, dict) else None
            return BudgetAccess(str(name) if name else "None")
    return BudgetAccess(None)
