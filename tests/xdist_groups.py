"""Which tests share a pytest-xdist worker (`make test` runs the suite on every core).

Every worker builds its own session fixtures. A folder named in SHARED_FIXTURE_FOLDERS keeps all its tests
on one worker because its session fixtures are costly and shared by the whole folder (tests/ui: two real
DAG runs and an api-server, about 80 s); every other test is its own unit of work and spreads freely.

xdist's own `--dist loadgroup` reads `xdist_group` marks by renaming node ids, which pytest 9 no longer
allows (the rename is silently lost), so the grouping is a scheduler of its own, chosen in tests/conftest.py.
"""
from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

SHARED_FIXTURE_FOLDERS = ("tests/ui/",)


def work_unit(nodeid: str) -> str:
    """The folder for a test in a shared-fixture folder, the test itself otherwise."""
    return next((folder for folder in SHARED_FIXTURE_FOLDERS if nodeid.startswith(folder)), nodeid)


class FolderGroupScheduling(LoadScopeScheduling):
    """LoadScopeScheduling over `work_unit`. xdist orders units by their number of tests (its default
    `--loadscope-reorder`), so a whole shared folder is sent first and is not the run's tail; the rest go
    one test at a time, in collection order, to whichever worker is free."""

    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid)
