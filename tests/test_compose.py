"""docker-compose.yaml and Dockerfile, checked statically (Docker cannot run on the project's machines):
valid YAML, images pinned, every referenced file present, the environment consistent with the connections
and pool the DAGs use, the seed SQL valid T-SQL, the stand-ins seeded from one sample; the secrets every
Airflow container must share (from .env, as .env.example lists them), health checks and health-gated
dependencies, the config mount; the image installing only the runtime requirements, within the
constraints. Where Debian's compose CLI is installed (apt-packages.txt: `make setup` installs it),
`docker-compose config` reads the file with a generated .env."""
from __future__ import annotations

import ast
import configparser
import importlib.metadata
import importlib.util
import json
import os
import re
import secrets
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
ENV_EXAMPLE = ROOT / ".env.example"
REQUIREMENTS, REQUIREMENTS_DEV, CONSTRAINTS = (ROOT / n for n in ("requirements.txt", "requirements-dev.txt", "constraints.txt"))
# Airflow setting -> the .env variable it is read from: one value for every Airflow container, or each makes up
# its own and the workers' tasks are refused ("Signature verification failed", apache/airflow#49646, #59373).
SHARED_SECRETS = {"AIRFLOW__CORE__FERNET_KEY": "AIRFLOW_FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET": "AIRFLOW_JWT_SECRET",
                  "AIRFLOW__API__SECRET_KEY": "AIRFLOW_API_SECRET_KEY"}
TEST_AND_LINT_PACKAGES = {"pytest", "pytest-timeout", "ruff", "mypy", "pandas-stubs", "types-jsonschema", "sqlglot", "pypdf"}
DDL = ROOT / "standins" / "spectrum_sample" / "ddl"
SEED_FILES = ("spectrum_tsql.sql", "spectrum_demo_data_tsql.sql")
AIRFLOW_COMPONENTS = {"api-server", "scheduler", "dag-processor", "triggerer", "celery worker"}
SPECTRUM_TABLES = {"JC_JOB_MASTER_MC", "JC_PHASE_MASTER_MC", "JC_TRANSACTION_HISTORY_MC", "JC_COST_TYPE_MASTER_MC", "JC_PHASE_ESTIMATES_MC"}
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def dotenv(text: str) -> dict[str, str]:
    """The NAME=value lines of an .env file (comments and blank lines left out)."""
    pairs = (line.split("=", 1) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def generated_dotenv() -> dict[str, str]:
    """.env.example with its empty required keys filled in as its instructions say."""
    from cryptography.fernet import Fernet

    env = dotenv(ENV_EXAMPLE.read_text(encoding="utf-8"))
    env["AIRFLOW_FERNET_KEY"] = Fernet.generate_key().decode()
    env["AIRFLOW_JWT_SECRET"], env["AIRFLOW_API_SECRET_KEY"] = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    return env


DOTENV = generated_dotenv()


class MissingVariable(ValueError):
    pass


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's variable substitution: ${VAR:-default} / ${VAR-default}, ${VAR:?error} / ${VAR?error}
    (MissingVariable, as compose refuses to start), ${VAR}, $VAR, $$ -> $. The environment defaults to
    a generated .env (.env.example with its keys filled in)."""
    env = DOTENV if env is None else env

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, operator, argument = m.group(1) or m.group(4), m.group(2) or "", m.group(3) or ""
        value = env.get(name)
        unset = value is None or (operator.startswith(":") and value == "")
        if operator.endswith("?") and unset:
            raise MissingVariable(f"{name}: {argument}")
        if operator.endswith("-") and unset:
            return argument
        return value or ""

    return _VAR.sub(sub, value)


def compose_variables(text: str) -> dict[str, str]:
    """Every variable the compose file reads -> its operator ('', '-', ':-', '?', ':?'), escaped $$ left out."""
    found: dict[str, str] = {}
    for m in _VAR.finditer(text):
        if m.group(0) != "$$":
            found.setdefault(m.group(1) or m.group(4), m.group(2) or "")
    return found


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


def _compose_cli() -> list[str]:
    """The compose CLI: the `docker compose` plugin or Debian's `docker-compose` (apt-packages.txt, so
    `make setup` installs it: under CI=true its absence fails instead of skipping)."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    apt_packages = (ROOT / "apt-packages.txt").read_text(encoding="utf-8").split()
    if os.environ.get("CI") == "true" and "docker-compose" in apt_packages:
        pytest.fail("no compose CLI although apt-packages.txt lists docker-compose: did `make setup` run?")
    pytest.skip("no docker compose CLI on this machine (`make setup` installs Debian's docker-compose): the other tests check the file")


def _compose_config(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`<cli> --env-file <generated .env> -f docker-compose.yaml config`, with no compose variable from the
    caller's shell (the shell would win over the .env file)."""
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    names = set(compose_variables(COMPOSE.read_text(encoding="utf-8"))) | {"COMPOSE_FILE", "COMPOSE_PROJECT_NAME"}
    clean = {k: v for k, v in os.environ.items() if k not in names}
    return subprocess.run([*_compose_cli(), "--env-file", str(env_file), "-f", str(COMPOSE), "config"],
                          cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=120)


def test_docker_compose_accepts_the_file_with_a_generated_env(tmp_path):
    """`docker compose config` (it needs no Docker engine) with .env.example's keys generated: every Airflow
    container gets the same three secrets, and the config folder."""
    result = _compose_config(tmp_path, DOTENV)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)["services"]
    airflow = {name: s for name, s in resolved.items() if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in (s.get("environment") or {})}
    assert {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker"} <= set(airflow)
    for name, service in airflow.items():
        for setting, variable in SHARED_SECRETS.items():
            assert service["environment"][setting] == DOTENV[variable], f"{name}: {setting}"
        volumes = [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in service["volumes"]]
        assert any(v.startswith(f"{ROOT / 'config'}:/opt/airflow/config") for v in volumes), f"{name}: {volumes}"


@pytest.mark.parametrize("variable", sorted(SHARED_SECRETS.values()))
def test_docker_compose_refuses_to_start_without_a_shared_secret(tmp_path, variable):
    result = _compose_config(tmp_path, {**DOTENV, variable: ""})
    assert result.returncode != 0, f"compose accepted an empty {variable}"
    assert variable in result.stderr and ".env.example" in result.stderr, result.stderr


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
    for source in _dockerfile_copies(text):
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
        assert env["BUDGET_IMPORT_STATE_DB"] == env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], f"{name}: the state DB is not the shared PostgreSQL"
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


# --- shared secrets, health, config ------------------------------------------------------------------
def _airflow_containers(services: dict[str, dict]) -> dict[str, dict]:
    """The services built on the x-airflow-common anchor (components, airflow-init, airflow-cli)."""
    return {name: s for name, s in services.items() if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in (s.get("environment") or {})}


def _long_running(services: dict[str, dict]) -> set[str]:
    return {name for name, s in services.items() if s.get("restart") in ("always", "unless-stopped", "on-failure")}


def test_every_airflow_container_shares_the_secrets_from_the_common_anchor(compose, services):
    """Defined once, in x-airflow-common, as ${VAR:?...}: compose refuses to start without them, and no
    service can drift to its own value."""
    anchor = compose["x-airflow-common"]["environment"]
    text = COMPOSE.read_text(encoding="utf-8")
    containers = _airflow_containers(services)
    assert set(_airflow_services(services)) | {"airflow-init", "airflow-cli"} <= set(containers)
    for setting, variable in SHARED_SECRETS.items():
        assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]*\.env\.example[^}}]*\}}", anchor[setting]), f"{setting}: {anchor[setting]!r}"
        assert len(re.findall(rf"(?m)^\s*{setting}:", text)) == 1, f"{setting} is set outside the common anchor"
        for name, service in containers.items():
            assert service["environment"][setting] == anchor[setting], f"{name}: {setting} is not the anchor's"
            assert _env(service)[setting] == DOTENV[variable]
        with pytest.raises(MissingVariable, match=variable):
            interpolate(anchor[setting], {**DOTENV, variable: ""})
    from cryptography.fernet import Fernet

    Fernet(_env(containers["airflow-worker"])["AIRFLOW__CORE__FERNET_KEY"])  # a generated key is accepted


def test_env_example_lists_every_variable_compose_reads_and_how_to_make_the_keys():
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    listed = dotenv(text)
    mentioned = set(re.findall(r"(?m)^#?\s*([A-Za-z_][A-Za-z0-9_]*)=", text))
    for variable, operator in compose_variables(COMPOSE.read_text(encoding="utf-8")).items():
        assert variable in mentioned, f"docker-compose.yaml reads {variable}; .env.example does not list it"
        if operator.endswith("?"):
            assert listed.get(variable) == "", f"required {variable} must be an empty line to fill in"
    assert {v: compose_variables(COMPOSE.read_text(encoding="utf-8"))[v] for v in SHARED_SECRETS.values()} == dict.fromkeys(SHARED_SECRETS.values(), ":?")
    # The one-liners .env.example gives make what the settings need.
    commands = re.findall(r'(?m)^#\s+python -c "(.+)"$', text)
    assert len(commands) == 3, commands
    outputs = [subprocess.run([sys.executable, "-c", c], capture_output=True, text=True, check=True).stdout.strip() for c in commands]
    from cryptography.fernet import Fernet

    Fernet(outputs[0])
    assert all(len(o) >= 32 for o in outputs[1:]) and len(set(outputs)) == 3
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT).returncode
    assert ignored == 0 or ".env" in (ROOT / ".gitignore").read_text(encoding="utf-8").split(), ".env must be git-ignored"
    assert subprocess.run(["git", "check-ignore", "-q", ".env.example"], cwd=ROOT).returncode != 0


def test_long_running_services_have_health_checks_and_dependencies_wait_for_health(services):
    long_running = _long_running(services)
    assert set(_airflow_services(services)) | {"postgres", "redis", "mssql", "procore-emulator"} <= long_running
    for name in long_running:
        test = (services[name].get("healthcheck") or {}).get("test")
        assert test and test != ["NONE"], f"{name}: no health check"
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on without conditions starts before its dependencies are up"
        for target, spec in depends_on.items():
            wanted = "service_healthy" if target in long_running else "service_completed_successfully"
            assert spec.get("condition") == wanted, f"{name} -> {target}: {spec}"
    for name, service in _airflow_services(services).items():
        assert {"postgres", "redis", "airflow-init"} <= set(service["depends_on"]), name
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"

    def probe(name: str) -> str:
        test = services[name]["healthcheck"]["test"]
        return " ".join(test) if isinstance(test, list) else test

    assert "/api/v2/monitor/health" in probe("airflow-apiserver")
    assert "localhost:8974/health" in probe("airflow-scheduler")
    assert _env(services["airflow-scheduler"])["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    assert "--job-type DagProcessorJob" in probe("airflow-dag-processor")
    assert "--job-type TriggererJob" in probe("airflow-triggerer")
    assert "inspect ping" in probe("airflow-worker")
    assert "pg_isready" in probe("postgres") and "redis-cli" in probe("redis")


def test_a_triggerer_runs_the_deferred_review(services):
    """The manual DAG's review is a HITL operator, which defers: only a triggerer resumes it."""
    from airflow.providers.standard.operators.hitl import HITLOperator

    from include.budget_import.import_tasks import ReviewImportOperator

    assert issubclass(ReviewImportOperator, HITLOperator)
    triggerers = [name for name, s in _airflow_services(services).items() if _command(s) == "triggerer"]
    assert triggerers == ["airflow-triggerer"]


def test_the_config_folder_is_mounted_and_airflow_reads_its_file(services):
    for name, service in _airflow_containers(services).items():
        assert _mounts(service).get("/opt/airflow/config") == ROOT / "config", f"{name}: config not mounted"
        config = _env(service)["AIRFLOW_CONFIG"]
        assert config.startswith("/opt/airflow/config/"), f"{name}: AIRFLOW_CONFIG={config}"
    host_file = ROOT / "config" / Path(config).name
    assert host_file.is_file(), "ship the file: Airflow writes a generated default where it finds none"
    parser = configparser.ConfigParser()
    parser.read_string(host_file.read_text(encoding="utf-8"))
    for section, key in (("core", "fernet_key"), ("api_auth", "jwt_secret"), ("api", "secret_key")):
        assert not parser.has_option(section, key), f"[{section}] {key} belongs in .env, not in the repository"


# --- image and requirements ---------------------------------------------------------------------------
def _dockerfile_copies(text: str) -> dict[str, str]:
    """Repository path -> image path of each COPY (a destination ending in / holds several sources)."""
    copies = {}
    for line in re.findall(r"(?m)^COPY\s+(.+)$", text):
        parts = [p for p in line.split() if not p.startswith("--")]
        *sources, dest = parts
        for source in sources:
            copies[source] = dest + Path(source).name if dest.endswith("/") else dest
    return copies


def _requirement_names(path: Path, seen: set[Path] | None = None) -> set[str]:
    """Normalised distribution names a requirements file installs, following its `-r` includes."""
    seen = seen if seen is not None else set()
    seen.add(path)
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith(("-r ", "--requirement ")):
            included = path.parent / line.split(None, 1)[1]
            if included not in seen:
                names |= _requirement_names(included, seen)
        elif line and not line.startswith("-"):
            names.add(_normalise(re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0]))
    return names


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line.split("#", 1)[0].strip())
        if m:
            pins[_normalise(m.group(1))] = m.group(2)
    return pins


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_image_installs_only_the_runtime_requirements_within_the_constraints():
    text = DOCKERFILE.read_text(encoding="utf-8")
    in_image = {dest: ROOT / source for source, dest in _dockerfile_copies(text).items()}
    installs = re.findall(r"(?m)^RUN\s+pip install\b(.*)$", text)
    assert installs, "the Dockerfile installs no requirements"
    for arguments in installs:
        constraint = re.search(r"(?:-c|--constraint)\s+(\S+)", arguments)
        assert constraint and in_image.get(constraint.group(1)) == CONSTRAINTS, f"pip install without -c constraints.txt: {arguments}"
        for requirement in re.findall(r"(?:-r|--requirement)\s+(\S+)", arguments):
            installed = _requirement_names(in_image[requirement])
            assert not installed & {"pytest", "ruff", "mypy"}, f"{requirement} puts test/lint tools in the image"
            assert not installed & TEST_AND_LINT_PACKAGES, installed & TEST_AND_LINT_PACKAGES
    assert REQUIREMENTS_DEV not in in_image.values()
    image_airflow = re.search(r"(?m)^FROM\s+apache/airflow:(\d+\.\d+\.\d+)-python(\d+\.\d+)", text)
    assert image_airflow.groups() == (_pins(CONSTRAINTS)["apache-airflow"], "3.11")
    assert _pins(REQUIREMENTS)["apache-airflow"] == image_airflow.group(1)


def test_dev_requirements_extend_the_runtime_ones_and_setup_installs_them_with_the_constraints():
    lines = [line.strip() for line in REQUIREMENTS_DEV.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0] == "-r requirements.txt"
    assert {"pytest", "pytest-timeout", "ruff", "mypy"} <= _requirement_names(REQUIREMENTS_DEV)
    assert _requirement_names(REQUIREMENTS) <= _requirement_names(REQUIREMENTS_DEV)
    constraints = _pins(CONSTRAINTS)
    for path in (REQUIREMENTS, REQUIREMENTS_DEV):
        for name, version in _pins(path).items():
            assert constraints.get(name) == version, f"{path.name}: {name}=={version}, constraints.txt: {constraints.get(name)}"
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert re.search(r"pip install [^\n]*-r requirements-dev\.txt -c constraints\.txt", setup)
    assert re.search(r"stamp=.*requirements-dev\.txt", setup), "setup must reinstall when requirements-dev.txt changes"


def _runtime_imports() -> dict[str, set[str]]:
    """Absolute imports of dags/, include/ and plugins/ outside the standard library and the project -> files."""
    local = {"include"} | {p.stem for folder in ("dags", "plugins") for p in (ROOT / folder).iterdir()}
    found: dict[str, set[str]] = {}
    for folder in ("dags", "include", "plugins"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in local and top != "__future__":
                        found.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    return found


def _owner(module: str, candidates: list[str]) -> str | None:
    """The distribution whose files hold `module` (for a namespace package several distributions share)."""
    spec = importlib.util.find_spec(module)
    origin = Path(spec.origin).resolve() if spec and spec.origin else None
    for name in candidates:
        files = importlib.metadata.distribution(name).files or []
        if origin and any(Path(f.locate()).resolve() == origin for f in files if f.suffix == ".py"):
            return name
    return None


def test_every_package_the_runtime_code_imports_is_in_requirements():
    """What dags/, include/ and plugins/ import must be pinned in requirements.txt (the image installs only
    that), not arrive by chance through requirements-dev.txt or another package. A module of a namespace
    package (airflow.*) counts for the distribution that ships it; a meta-package's own dependencies
    (apache-airflow -> apache-airflow-core, -task-sdk) count as pinned with it."""
    from packaging.requirements import Requirement

    runtime = _requirement_names(REQUIREMENTS)
    for name in list(runtime):
        dist = importlib.metadata.distribution(name)
        if not any(f.suffix == ".py" for f in dist.files or []):  # a meta-package
            runtime |= {_normalise(Requirement(r).name) for r in dist.requires or [] if "extra ==" not in r}
    top_level = importlib.metadata.packages_distributions()
    missing = []
    for module, files in sorted(_runtime_imports().items()):
        candidates = top_level.get(module.split(".")[0], [])
        assert candidates, f"{module} (imported by {sorted(files)}) is not installed"
        owner = candidates[0] if len(set(candidates)) == 1 else _owner(module, candidates)
        assert owner, f"{module}: none of {candidates} ships it"
        if _normalise(owner) not in runtime:
            missing.append(f"{owner} (import {module} in {', '.join(sorted(files))})")
    assert not missing, "imported at runtime, not in requirements.txt:\n" + "\n".join(missing)
