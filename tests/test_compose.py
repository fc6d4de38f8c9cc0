"""docker-compose.yaml and Dockerfile, checked statically (Docker cannot run on the project's machines):
valid YAML, images pinned, every referenced file present, the environment consistent with the connections
and pool the DAGs use, the seed SQL valid T-SQL, the stand-ins seeded from one sample."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlglot
import yaml
from sqlglot import exp

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DDL = ROOT / "standins" / "spectrum_sample" / "ddl"
SEED_FILES = ("spectrum_tsql.sql", "spectrum_demo_data_tsql.sql")
AIRFLOW_COMPONENTS = {"api-server", "scheduler", "dag-processor", "triggerer", "celery worker"}
SPECTRUM_TABLES = {"JC_JOB_MASTER_MC", "JC_PHASE_MASTER_MC", "JC_TRANSACTION_HISTORY_MC", "JC_COST_TYPE_MASTER_MC", "JC_PHASE_ESTIMATES_MC"}
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's variable substitution with an empty environment: ${VAR:-default}, ${VAR}, $VAR, $$ -> $."""
    env = env or {}

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(3)
        return env.get(name) or (m.group(2) or "")

    return _VAR.sub(sub, value)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


def _command(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def _airflow_services(services: dict[str, dict]) -> dict[str, dict]:
    return {name: s for name, s in services.items() if _command(s) in AIRFLOW_COMPONENTS}


def _env(service: dict) -> dict[str, str]:
    return {k: interpolate(str(v)) for k, v in (service.get("environment") or {}).items()}


def _mounts(service: dict) -> dict[str, Path]:
    """container path -> host path of the service's bind mounts (named volumes left out)."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = interpolate(volume).split(":")[:2]
        if source.startswith((".", "/")):
            mounts[target] = (ROOT / source).resolve()
    return mounts


# --- file -----------------------------------------------------------------------------------------
def test_the_file_is_valid_yaml_with_every_service_of_the_stack(services):
    assert {"postgres", "redis", "mssql", "mssql-init", "procore-emulator", "airflow-init", "airflow-apiserver",
            "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker"} <= set(services)
    assert {_command(s) for s in _airflow_services(services).values()} == AIRFLOW_COMPONENTS


def test_docker_compose_accepts_the_file():
    """`docker compose config` when a compose CLI is installed (it needs no Docker engine); skipped otherwise."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        command = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        command = ["docker-compose"]
    else:
        pytest.skip("no docker compose CLI on this machine: the other tests check the file")
    result = subprocess.run([*command, "-f", str(COMPOSE), "config", "-q"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_image_is_pinned(services):
    for name, service in services.items():
        assert "image" in service, f"{name}: no image (a built image needs a tag too)"
        image = interpolate(service["image"])
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest" and "latest" not in tag, f"{name}: image {image!r} is not pinned"
    assert interpolate(services["postgres"]["image"]).startswith("postgres:16")
    assert interpolate(services["redis"]["image"]).startswith("redis:7")
    assert interpolate(services["mssql"]["image"]).startswith("mcr.microsoft.com/mssql/server:2022-")
    froms = re.findall(r"(?im)^FROM\s+(\S+)", DOCKERFILE.read_text(encoding="utf-8"))
    assert froms == ["apache/airflow:3.3.2-python3.11"]


def test_the_image_is_the_airflow_version_of_requirements(services):
    pinned = re.search(r"(?m)^apache-airflow==(\S+)$", (ROOT / "requirements.txt").read_text(encoding="utf-8")).group(1)
    assert f"apache/airflow:{pinned}-" in DOCKERFILE.read_text(encoding="utf-8")
    for name, service in _airflow_services(services).items():
        assert service.get("build", {}).get("dockerfile") == "Dockerfile", name
        assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


def test_the_dockerfile_installs_the_sql_server_odbc_driver_and_the_requirements():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "packages.microsoft.com" in text and "ACCEPT_EULA=Y" in text
    assert re.search(r"apt-get install[^\n]*msodbcsql18", text) and re.search(r"apt-get install[^\n]*unixodbc", text)
    assert re.search(r"pip install [^\n]*-r /requirements/requirements\.txt", text)
    for source in re.findall(r"(?m)^COPY(?:\s+--\S+)*\s+(\S+)\s+\S+$", text):
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".venv" in ignored and "var" in ignored, "the build context must leave out the virtualenv and local state"


# --- referenced files -----------------------------------------------------------------------------
def test_every_bind_mounted_path_exists_in_the_repository(services):
    """Sources under var/ are the stack's runtime state (git-ignored, created on first start)."""
    assert "/var/" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    for name, service in services.items():
        for target, host in _mounts(service).items():
            if host.is_relative_to(ROOT / "var"):
                continue
            assert host.exists(), f"{name}: mounts {host.relative_to(ROOT)} on {target}, which does not exist"


def test_the_code_is_mounted_where_pythonpath_imports_it(services):
    for name, service in _airflow_services(services).items():
        mounts, env = _mounts(service), _env(service)
        for folder in ("dags", "plugins", "include"):
            assert mounts.get(f"/opt/airflow/{folder}") == ROOT / folder, f"{name}: {folder} not mounted"
        assert "/opt/airflow" in env["PYTHONPATH"].split(":"), f"{name}: `include` would not import"
        assert env["BUDGET_IMPORT_REPORTS_DIR"] in mounts, f"{name}: reports folder is not a shared mount"
    emulator = services["procore-emulator"]
    assert _mounts(emulator)["/opt/airflow/standins"] == ROOT / "standins"


def test_the_spectrum_seed_runs_the_t_sql_ddl_and_demo_data_with_sqlcmd(services):
    init = services["mssql-init"]
    mounts = _mounts(init)
    script = _container_file(mounts, _command(init).split()[-1])
    text = script.read_text(encoding="utf-8")
    assert "/opt/mssql-tools18/bin/sqlcmd" in text
    referenced = set(re.findall(r"(/seed/\S+?\.sql)\b", text))
    assert {f"/seed/ddl/{name}" for name in SEED_FILES} <= referenced
    for path in referenced:
        assert _container_file(mounts, path).is_file(), path
    assert init["depends_on"]["mssql"]["condition"] == "service_healthy"
    assert services["airflow-worker"]["depends_on"]["mssql-init"]["condition"] == "service_completed_successfully"
    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr


def test_inline_shell_scripts_are_valid_bash(services):
    for name in ("airflow-init", "procore-emulator"):
        script = services[name]["command"][-1]
        syntax = subprocess.run(["bash", "-n", "-c", interpolate(script)], capture_output=True, text=True)
        assert syntax.returncode == 0, f"{name}: {syntax.stderr}"


def _container_file(mounts: dict[str, Path], container_path: str) -> Path:
    for target, host in mounts.items():
        if container_path.startswith(target.rstrip("/") + "/"):
            return host / container_path[len(target.rstrip("/")) + 1:]
    raise AssertionError(f"{container_path} is not inside a bind mount ({sorted(mounts)})")


# --- executor and environment ----------------------------------------------------------------------
def test_executor_is_celery_on_redis_with_a_postgresql_metadata_db_and_result_backend(services):
    for name, service in _airflow_services(services).items():
        env = _env(service)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://") and "@redis:" in env["AIRFLOW__CELERY__BROKER_URL"]
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://") and "@postgres/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://")
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA"].lower() == "true", name


def test_workers_can_be_scaled(services):
    worker = services["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker, "a fixed name or host port stops --scale"


def test_the_connections_the_dags_use_are_set_on_every_airflow_service(services, monkeypatch):
    from include.budget_import.connections import PROCORE_CONN_ID, SPECTRUM_CONN_ID

    for name, service in _airflow_services(services).items():
        env = _env(service)
        for conn_id in (SPECTRUM_CONN_ID, PROCORE_CONN_ID):
            assert f"AIRFLOW_CONN_{conn_id.upper()}" in env, f"{name}: connection {conn_id} not set"
    env = _env(services["airflow-worker"])
    spectrum = json.loads(env[f"AIRFLOW_CONN_{SPECTRUM_CONN_ID.upper()}"])
    procore = json.loads(env[f"AIRFLOW_CONN_{PROCORE_CONN_ID.upper()}"])
    assert spectrum["host"] in services and procore["host"] in services

    # Through the hooks the pipeline uses, as a task would see them.
    for key, value in env.items():
        if key.startswith(("AIRFLOW_CONN_", "AIRFLOW__PROVIDERS_ODBC__")):
            monkeypatch.setenv(key, value)
    from airflow.providers.odbc.hooks.odbc import OdbcHook

    conn_str = OdbcHook(odbc_conn_id=SPECTRUM_CONN_ID).odbc_connection_string
    for part in ("DRIVER={ODBC Driver 18 for SQL Server};", "SERVER=mssql;", "DATABASE=Spectrum;", "Encrypt=yes;", "TrustServerCertificate=yes;"):
        assert part in conn_str, f"{part!r} not in the ODBC connection string"

    from include.budget_import.procore.hook import ProcoreHook

    hook = ProcoreHook(procore_conn_id=PROCORE_CONN_ID)
    hook.get_conn()
    emulator_port = re.search(r"--port (\d+)", _command(services["procore-emulator"])).group(1)
    assert hook.base_url == f"http://procore-emulator:{emulator_port}"
    assert hook.spectrum_company_codes() == ["01", "02"]


def test_the_spectrum_login_is_the_one_the_seed_creates(services):
    spectrum = json.loads(_env(services["airflow-worker"])["AIRFLOW_CONN_SPECTRUM_DB"])
    init_env = _env(services["mssql-init"])
    assert spectrum["password"] == init_env["SPECTRUM_READER_PASSWORD"]
    assert spectrum["schema"] == init_env["SPECTRUM_DATABASE"]
    assert f"CREATE LOGIN {spectrum['login']} " in (ROOT / "docker" / "mssql-init" / "spectrum_reader.sql").read_text(encoding="utf-8")
    sa = _env(services["mssql"])["MSSQL_SA_PASSWORD"]
    assert sa == init_env["MSSQL_SA_PASSWORD"]
    assert len(sa) >= 8 and sum(bool(re.search(p, sa)) for p in ("[A-Z]", "[a-z]", "[0-9]", "[^A-Za-z0-9]")) >= 3, "SQL Server refuses a weak sa password"


def test_procore_connection_is_the_demo_fixtures_client_and_companies(services, tmp_path):
    """The emulator generates its fixture with the same generator and profile as the Spectrum seed data."""
    from scripts.local_airflow import procore_target_from_fixture

    command = _command(services["procore-emulator"])
    profile = re.search(r"spectrum_sample build --profile (\w+)", command).group(1)
    assert "--seed" not in command
    header = next(line for line in (DDL / "spectrum_demo_data_tsql.sql").read_text(encoding="utf-8").splitlines() if line.startswith("-- Sample data"))
    assert f"'profile': '{profile}'" in header and "'seed': 7" in header, header
    from standins.spectrum_sample.generate import DEFAULT_SEED

    assert DEFAULT_SEED == 7
    fixture = tmp_path / "fixture.json"
    subprocess.run([sys.executable, "-m", "standins.spectrum_sample", "build", "--profile", profile, "--procore-fixture", str(fixture)],
                   cwd=ROOT, check=True, capture_output=True)
    target = procore_target_from_fixture("http://procore-emulator:8765", fixture)
    procore = json.loads(_env(services["airflow-worker"])["AIRFLOW_CONN_PROCORE_API"])
    assert (procore["login"], procore["password"]) == (target.client_id, target.client_secret), "not the fixture's standard client"
    assert procore["extra"]["companies"] == target.companies, "Spectrum company -> Procore company map differs from the fixture"
    assert procore["extra"]["company_id"] in target.companies.values()


def test_airflow_init_creates_every_pool_the_dags_use(services):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    pools = {task.pool for dag in bag.dags.values() for task in dag.tasks} - {"default_pool"}
    init = services["airflow-init"]["command"][-1]
    for pool in pools:
        assert re.search(rf"airflow pools set {re.escape(pool)} \d+", init), f"pool {pool} is not created by airflow-init"


# --- SQL --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SEED_FILES)
def test_the_seed_files_parse_as_t_sql(name):
    statements = sqlglot.parse((DDL / name).read_text(encoding="utf-8"), read="tsql")
    assert statements
    fallbacks = [s.sql()[:80] for s in statements if isinstance(s, exp.Command)]
    assert not fallbacks, f"sqlglot could not parse (fell back to a raw command): {fallbacks}"
    if name == "spectrum_tsql.sql":
        created = {s.find(exp.Table).name.upper() for s in statements if isinstance(s, exp.Create) and s.kind == "TABLE"}
        assert SPECTRUM_TABLES <= created
    else:
        inserted = {s.find(exp.Table).name.upper() for s in statements if isinstance(s, exp.Insert)}
        assert inserted == SPECTRUM_TABLES


def test_the_reader_login_script_uses_only_variables_the_seed_passes():
    sql = (ROOT / "docker" / "mssql-init" / "spectrum_reader.sql").read_text(encoding="utf-8")
    seed = (ROOT / "docker" / "mssql-init" / "seed-spectrum.sh").read_text(encoding="utf-8")
    for variable in set(re.findall(r"\$\((\w+)\)", sql)):
        assert f"-v {variable}=" in seed, f"sqlcmd variable {variable} is not passed by seed-spectrum.sh"
    assert "db_datareader" in sql and "db_owner" not in sql
