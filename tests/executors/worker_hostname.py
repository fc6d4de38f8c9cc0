"""`[core] hostname_callable` for several Airflow workers on ONE machine.

A task instance's `hostname` is what `hostname_callable` returns in the process that runs it (default:
the machine's FQDN). In production every Celery worker is its own host, so the FQDNs differ; two workers
started side by side on this machine would report the same one. Each worker process of the executor tests
gets `AIRFLOW__CORE__HOSTNAME_CALLABLE=tests.executors.worker_hostname.hostname` and its own
`AIRFLOW_TEST_WORKER_NAME`, so the API shows which worker ran each task instance.
"""
from __future__ import annotations

import os
import socket


def hostname() -> str:
    name = os.environ.get("AIRFLOW_TEST_WORKER_NAME")
    return f"{name}@{socket.gethostname()}" if name else socket.getfqdn()
