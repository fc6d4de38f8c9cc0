"""moto's S3 server (from PyPI) as a subprocess on 127.0.0.1: the S3-compatible store the object-storage
tests write reports and XComs to. Ready when its HTTP port answers; stopped by the context manager."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

KEY, SECRET, REGION = "testing-key", "testing-secret", "us-east-1"


@dataclass
class S3Server:
    url: str

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name=REGION)

    def new_bucket(self, prefix: str = "reports") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        keys: list[str] = []
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [obj["Key"] for obj in page.get("Contents", [])]
        return sorted(keys)

    def body(self, bucket: str, key: str) -> bytes:
        return bytes(self.client().get_object(Bucket=bucket, Key=key)["Body"].read())

    def connection(self) -> str:
        """The Airflow connection (AIRFLOW_CONN_<ID>): an `aws` connection with the endpoint in its extra."""
        return json.dumps({"conn_type": "aws", "login": KEY, "password": SECRET, "extra": {"endpoint_url": self.url, "region_name": REGION}})


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_s3_server(log_dir: Path) -> Iterator[S3Server]:
    port = _free_port()
    log = log_dir / "moto.log"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": REGION}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=out,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # ready when its HTTP port answers (ListBuckets)
            if proc.poll() is not None:
                raise RuntimeError(f"moto's server exited ({proc.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
            try:
                if requests.get(url + "/", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto's server did not answer on {url} within 60 s:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)  # polling interval, not a wait for readiness
        yield S3Server(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
