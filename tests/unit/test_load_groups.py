"""Load tasks are mapped one per job, and share jobs only past Airflow's max_map_length."""
from __future__ import annotations


def test_loads_are_grouped_only_past_airflows_max_map_length():
    from include.budget_import.dag_tasks import load_group_label, ready_jobs

    def job(n: int) -> dict:
        return {"request": {"company_code": "01", "job_number": f"{n}.00"}}

    batches = [{"ready": [job(n) for n in range(5)], "blocked": []}, None, {"ready": [job(5), job(6)], "blocked": []}]
    assert [len(g) for g in ready_jobs(batches, max_map_length=1024)] == [1] * 7, "one load task per job"
    groups = ready_jobs(batches, max_map_length=3)
    assert len(groups) <= 3 and [j for g in groups for j in g] == [j for b in batches if b for j in b["ready"]], "every job, once, in order"
    assert load_group_label(groups[0]) == "01/0.00..01/2.00 (3 jobs)" and load_group_label([job(9)]) == "01/9.00"
