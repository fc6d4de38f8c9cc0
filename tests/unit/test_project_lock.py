"""The per-job write lock, with real competing processes (spawned: forking a threaded pytest can hang)."""
import multiprocessing

import pytest

from include.budget_import.project_lock import ProjectBusyError, project_lock

CTX = multiprocessing.get_context("spawn")


def _hold(root, job, queue, release=None, waiting=None):
    """Hold the job's lock until `release` is set (never on a timer); `waiting` is set once this process
    found the lock held by another."""
    with project_lock("01", job, owner=f"holder {job}", root=root, on_wait=(lambda holder: waiting.set()) if waiting else None) as hold:
        queue.put(("acquired", job))
        if release is not None:
            assert release.wait(60), "the test never released the holder"
    queue.put((job, hold.acquired_at, hold.released_at, hold.waited_s))


def _contend(root, queue):
    try:
        with project_lock("01", "19.50", owner="run manual-2", timeout_s=0.6, root=root):
            queue.put("acquired")
    except ProjectBusyError as exc:
        queue.put(str(exc))


def test_second_writer_of_one_job_waits_for_the_first_and_other_jobs_do_not(tmp_path):
    """Proved by the order of events, not by how long a spawn takes: the first writer lets go only after
    the second has found the lock held and another job's writer has got its own lock."""
    queue, release, second_waiting = CTX.Queue(), CTX.Event(), CTX.Event()
    first = CTX.Process(target=_hold, args=(tmp_path, "19.50", queue, release))
    first.start()
    assert queue.get(timeout=60) == ("acquired", "19.50")
    second = CTX.Process(target=_hold, args=(tmp_path, "19.50", queue, None, second_waiting))
    other = CTX.Process(target=_hold, args=(tmp_path, "20.01", queue))
    second.start()
    other.start()
    assert second_waiting.wait(60), "the second writer of 19.50 never found the lock held"
    early = [queue.get(timeout=60) for _ in range(2)]  # the other job: acquired and released, while 19.50 is held
    assert [m[0] for m in early] == ["acquired", "20.01"], f"another job's writer waited on 19.50's lock: {early}"
    release.set()
    messages = [queue.get(timeout=60) for _ in range(3)]
    for p in (first, second, other):
        p.join(60)
    same = sorted((m for m in messages if m[0] == "19.50"), key=lambda r: r[1])
    assert len(same) == 2 and ("acquired", "19.50") in messages
    assert same[0][2] <= same[1][1], "two writers of one job overlapped"
    assert same[1][3] > 0, "the second writer did not wait"
    assert early[1][2] <= same[0][2], "the other job finished while 19.50 was still held"


def test_a_writer_that_cannot_get_the_lock_in_time_fails_naming_the_holder(tmp_path):
    with project_lock("01", "19.50", owner="run nightly-1", root=tmp_path):
        queue = CTX.Queue()
        p = CTX.Process(target=_contend, args=(tmp_path, queue))
        p.start()
        message = queue.get(timeout=60)
        p.join(60)
    assert "nightly-1" in message and "19.50" in message


def test_lock_file_names_cannot_escape_the_lock_folder(tmp_path):
    with project_lock("01", "../../etc/passwd", owner="x", root=tmp_path) as hold:
        assert hold.path.parent == tmp_path / "locks"
    with pytest.raises(ProjectBusyError):
        with project_lock("01", "A", owner="x", root=tmp_path):
            with project_lock("01", "A", owner="y", timeout_s=0.2, root=tmp_path):
                pass


# --- the same on PostgreSQL: the lock every worker machine sees (a session advisory lock) ---------
@pytest.fixture
def pg_state_db(monkeypatch):
    """BUDGET_IMPORT_STATE_DB set to a new PostgreSQL database (spawned processes inherit it)."""
    from tests.state_dbs import postgres_state_db

    with postgres_state_db("lock") as url:
        monkeypatch.setenv("BUDGET_IMPORT_STATE_DB", url)
        yield url


def test_postgres_second_writer_waits_for_the_first_and_other_jobs_do_not(pg_state_db, tmp_path):
    """The mutual-exclusion test above, with the lock in PostgreSQL (no lock file anywhere)."""
    test_second_writer_of_one_job_waits_for_the_first_and_other_jobs_do_not(tmp_path)
    assert not (tmp_path / "locks").exists(), "a PostgreSQL state DB must not lock through files"


def test_postgres_busy_writer_names_the_holder_and_a_killed_holder_leaves_no_lock(pg_state_db, tmp_path):
    import sqlalchemy as sa

    from include.budget_import.project_lock import HOLDERS

    with project_lock("01", "19.50", owner="run nightly-1", root=tmp_path) as hold:
        assert hold.path is None and hold.where.startswith("pg_advisory_lock")
        queue = CTX.Queue()
        p = CTX.Process(target=_contend, args=(tmp_path, queue))
        p.start()
        message = queue.get(timeout=60)
        p.join(60)
    assert "nightly-1" in message and "19.50" in message and "since" in message
    # a holder killed mid-write: its connection ends, and the server drops the lock with it
    queue, release = CTX.Queue(), CTX.Event()
    holder = CTX.Process(target=_hold, args=(tmp_path, "19.50", queue, release))
    holder.start()
    assert queue.get(timeout=60) == ("acquired", "19.50")
    holder.kill()
    holder.join(60)
    with project_lock("01", "19.50", owner="after the crash", timeout_s=30, root=tmp_path) as hold:
        assert hold.acquired_at > 0
    engine = sa.create_engine(pg_state_db, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(HOLDERS)).scalar() == 0  # the next holder replaced the crashed row
        assert conn.execute(sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                                    "(SELECT oid FROM pg_database WHERE datname = current_database())")).scalar() == 0
    engine.dispose()
