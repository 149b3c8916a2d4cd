"""Running Lumen as a shop runs it in production: several workers and replicas on one PostgreSQL database,
redis for the rate limit, behind a proxy — and the compose.yaml that sets it up."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, make_url

from channels.cli import _parser
from lumen_bot.settings import Settings
from lumen_bot.store import database
from lumen_bot.store.database import make_engine
from lumen_bot.store.orders import import_file
from tests.conftest import FIXTURES, POSTGRES_URL, REDIS_URL, eventually
from tests.test_faults_two_processes import free_port, wait_until_up
from tests.test_schema_migrations import as_made_by_lumen_0_1, revision, schema_differences

ROOT = Path(__file__).resolve().parent.parent
LUMEN = Path(sys.executable).with_name("lumen")
needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="needs LUMEN_TEST_DATABASE_URL (CI sets it)")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs LUMEN_TEST_REDIS_URL (CI sets it)")


# --- Migrations run once, however many processes start at once ---------------------------------------


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """The URL of a new, empty database on the test PostgreSQL server, dropped afterwards (the shared
    test database always has the schema)."""
    assert POSTGRES_URL
    server = make_url(POSTGRES_URL)
    name = f"lumen_scratch_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# One start-up of a server process, timed to begin with the others at the given wall-clock time.
_START_UP = """
import sys, time
from lumen_bot.store.database import make_engine
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
make_engine(sys.argv[1]).dispose()
"""


def start_at_once(url: str, processes: int) -> None:
    """``processes`` process start-ups on ``url``, released together as replicas of a deployment are."""
    at = time.time() + 8  # after every process has imported Lumen, on a busy machine too
    starting = [
        subprocess.Popen([sys.executable, "-c", _START_UP, url, str(at)], stderr=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    failures = [process.communicate(timeout=120)[1] for process in starting]
    assert [process.returncode for process in starting] == [0] * processes, "\n".join(failures)


@needs_postgres
def test_processes_starting_at_once_on_an_empty_database_create_the_schema_once(empty_postgres):
    start_at_once(empty_postgres, processes=4)

    engine = make_engine(empty_postgres)
    assert revision(engine) == database._scripts().get_current_head()
    assert schema_differences(engine) == []
    engine.dispose()


@needs_postgres
def test_processes_starting_at_once_on_an_older_database_upgrade_it_once(empty_postgres):
    engine = make_engine(empty_postgres)
    as_made_by_lumen_0_1(engine)
    engine.dispose()

    start_at_once(empty_postgres, processes=4)

    engine = make_engine(empty_postgres)
    assert revision(engine) == database._scripts().get_current_head()
    assert schema_differences(engine) == []
    engine.dispose()


def test_lumen_migrate_brings_a_new_database_to_the_newest_schema_and_may_run_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    env = {"PATH": os.environ.get("PATH", ""), "LUMEN_DATABASE_URL": url}

    runs = [
        subprocess.run([LUMEN, "migrate"], env=env, cwd=tmp_path, capture_output=True, timeout=60)
        for _ in range(2)
    ]

    assert [run.returncode for run in runs] == [0, 0], runs[0].stderr
    engine = make_engine(url)
    assert revision(engine) == database._scripts().get_current_head()
    engine.dispose()


# --- lumen serve --workers N, and the proxy's forwarded address ---------------------------------------


def lumen_env(**settings: str) -> dict[str, str]:
    """A server's environment: only PATH and the given LUMEN_ settings (nothing from the developer's)."""
    return {"PATH": os.environ.get("PATH", ""), **settings}


@pytest.fixture
def serve(tmp_path) -> Iterator[Callable[..., tuple[subprocess.Popen[bytes], str]]]:
    """Starts ``lumen serve ARGS`` on a free port with the given environment, waits until it answers, and
    stops it after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def serve(*args: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        with (tmp_path / f"serve-{port}.log").open("wb") as log:  # the process keeps its own copy open
            process = subprocess.Popen(
                # Last, so they win over an address in ``args`` (compose's): tests listen on loopback only.
                [LUMEN, "serve", *args, "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=tmp_path,
                stdout=log,
                stderr=log,
            )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, seconds=60)
        return process, url

    yield serve
    for process in started:
        process.terminate()
    for process in started:
        process.wait(timeout=30)


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``: their command lines, by pid (read from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # ended meanwhile
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found[int(entry.name)] = command
    return found


def chat(url: str, text: str, session: str | None = None) -> dict[str, object]:
    response = httpx.post(f"{url}/api/chat", json={"session": session, "text": text}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def track(urls: list[str]) -> str:
    """One shopper's conversation, each message to the next of ``urls``: the last reply's text."""
    texts = ["Where's my order?", "1042", "jane.doe@example.com"]
    session = None
    for n, text in enumerate(texts):
        body = chat(urls[n % len(urls)], text, session)
        session = str(body["session"])
    messages = body["messages"]
    assert isinstance(messages, list)
    return str(messages[0]["text"])


@pytest.fixture
def sqlite_with_orders(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'lumen.db'}"
    engine = make_engine(url)
    import_file(engine, FIXTURES / "orders.csv")
    engine.dispose()
    return url


def test_serve_with_two_workers_runs_two_server_processes_that_chat(serve, sqlite_with_orders, tmp_path):
    process, url = serve("--workers", "2", env=lumen_env(LUMEN_DATABASE_URL=sqlite_with_orders))

    def two_workers() -> list[int]:
        workers = [pid for pid, command in children(process.pid).items() if "spawn_main" in command]
        return workers if len(workers) == 2 else []

    workers = eventually(two_workers, timeout=60)
    assert "1Z999AA10123456784" in track([url])
    # Each worker built its own app and started serving (uvicorn logs its pid).
    log = tmp_path / f"serve-{url.rpartition(':')[2]}.log"
    eventually(
        lambda: all(f"Started server process [{pid}]" in log.read_text() for pid in workers), timeout=60
    )


def test_serve_believes_the_forwarded_address_only_from_the_proxies_it_trusts(serve, sqlite_with_orders):
    limits = {"LUMEN_DATABASE_URL": sqlite_with_orders, "LUMEN_CHAT_RATE_LIMIT_PER_CLIENT": "2/minute"}
    # Not the proxy it trusts (the setting): every shopper is the proxy's one address, over its limit.
    _, untrusting = serve(env=lumen_env(**limits, LUMEN_FORWARDED_ALLOW_IPS="192.0.2.1"))
    # The proxy it trusts (the option, over the setting): each shopper is counted on their own.
    _, trusting = serve("--forwarded-allow-ips", "127.0.0.0/8", env=lumen_env(**limits))

    def statuses(url: str) -> list[int]:
        shoppers = [f"198.51.100.{n}" for n in range(1, 4)]
        return [
            httpx.post(
                f"{url}/api/chat",
                json={"session": None, "text": "hi"},
                headers={"X-Forwarded-For": shopper},
                timeout=30,
            ).status_code
            for shopper in shoppers
        ]

    assert statuses(untrusting) == [200, 200, 429]
    assert statuses(trusting) == [200, 200, 200]


# --- The redis extra ----------------------------------------------------------------------------------


def test_redis_storage_without_the_redis_package_is_refused_naming_the_extra(tmp_path, sqlite_with_orders):
    # A redis module that cannot be imported, ahead of the installed one, as in an install without it.
    missing = tmp_path / "without-redis"
    missing.mkdir()
    (missing / "redis.py").write_text("raise ImportError('redis is not installed')\n")
    env = lumen_env(
        PYTHONPATH=str(missing),
        LUMEN_DATABASE_URL=sqlite_with_orders,
        LUMEN_RATE_LIMIT_STORAGE="redis://:s3cret@127.0.0.1:6379/0",
    )

    for args in (
        ["serve", "--port", str(free_port())],
        ["serve", "--workers", "2", "--port", str(free_port())],
    ):
        result = subprocess.run(
            [LUMEN, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )

        assert result.returncode == 2, result.stderr
        assert "LUMEN_RATE_LIMIT_STORAGE" in result.stderr
        assert "pip install 'lumen-bot[redis]'" in result.stderr
        assert "Traceback" not in result.stderr and "s3cret" not in result.stderr


def test_the_redis_extra_installs_the_client_and_the_tests_have_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    name = project["name"]

    assert name == "lumen-bot"  # the name the error message and the README tell operators to install
    assert any(re.match(r"redis\b", requirement) for requirement in extras["redis"])
    assert any(re.match(r"redis\b", requirement) for requirement in extras["test"])
    assert re.search(r"^redis==", (ROOT / "requirements.lock").read_text(), re.MULTILINE)


# --- Dockerfile ---------------------------------------------------------------------------------------

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_the_image_installs_the_hashed_lock_file_and_the_wheel_alone():
    runtime = DOCKERFILE[DOCKERFILE.rindex("\nFROM ") :]

    assert "pip install --require-hashes --no-deps -r requirements.lock" in DOCKERFILE
    assert "pip install --no-deps /wheels/*.whl" in DOCKERFILE
    assert "COPY --from=build /opt/lumen /opt/lumen" in runtime
    assert runtime.count("COPY") == 1  # the environment, and nothing of the source


def test_the_image_is_built_in_two_stages_on_a_base_pinned_to_an_exact_tag():
    bases = re.findall(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE)

    assert len(bases) == 2 and len(set(bases)) == 1
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-[a-z]+", bases[0])


def test_the_healthcheck_asks_readyz_after_a_start_period():
    healthcheck = DOCKERFILE[DOCKERFILE.index("HEALTHCHECK") :]

    assert "--start-period=" in healthcheck.splitlines()[0]
    assert "/readyz" in healthcheck


def test_the_build_context_leaves_out_history_environments_secrets_and_tests():
    ignored = (ROOT / ".dockerignore").read_text().split()

    assert {".git", ".venv", ".env", "tests", "**/__pycache__"} <= set(ignored)


# --- compose.yaml -------------------------------------------------------------------------------------

COMPOSE = ROOT / "compose.yaml"
_VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolated(value: object, environment: dict[str, str]) -> object:
    """``value`` with ``${NAME}`` and ``${NAME:-default}`` replaced as docker compose replaces them."""
    if isinstance(value, str):
        return _VARIABLE.sub(lambda match: environment.get(match[1]) or match[2] or "", value)
    if isinstance(value, list):
        return [interpolated(item, environment) for item in value]
    if isinstance(value, dict):
        return {key: interpolated(item, environment) for key, item in value.items()}
    return value


def compose(environment: dict[str, str] | None = None) -> dict[str, Any]:
    """compose.yaml as docker compose reads it (anchors and merge keys resolved, variables filled in)."""
    loaded = interpolated(yaml.safe_load(COMPOSE.read_text()), environment or {})
    assert isinstance(loaded, dict)
    return loaded


def lumen_environment(environment: dict[str, str] | None = None) -> dict[str, str]:
    return {
        name: str(value) for name, value in compose(environment)["services"]["lumen"]["environment"].items()
    }


def test_compose_runs_two_replicas_behind_one_port_after_migrating_once():
    services = compose()["services"]
    lumen, migrate, proxy = services["lumen"], services["migrate"], services["proxy"]

    assert {"postgres", "redis", "migrate", "lumen", "proxy"} <= set(services)
    assert lumen["deploy"]["replicas"] == 2
    assert "ports" not in lumen and len(proxy["ports"]) == 1
    assert migrate["command"] == ["lumen", "migrate"] and migrate["restart"] == "no"
    assert lumen["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert lumen["environment"] == migrate["environment"]
    # Each command is one Lumen's command line accepts.
    serve_args = _parser().parse_args(lumen["command"][1:])
    assert serve_args.command == "serve" and serve_args.port == 8000 and serve_args.workers == 1
    assert _parser().parse_args(migrate["command"][1:]).command == "migrate"
    # nginx sends every request to the replicas' port.
    mounted = {volume.split(":")[1]: ROOT / volume.split(":")[0] for volume in proxy["volumes"]}
    nginx = mounted["/etc/nginx/conf.d/default.conf"].read_text()
    assert re.search(r"server lumen:8000 resolve;", nginx) and "proxy_pass http://lumen;" in nginx


def test_compose_passes_valid_lumen_settings_for_postgresql_and_redis(monkeypatch):
    environment = lumen_environment()
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    # Every variable is one Lumen reads (a misspelt one would be ignored without a word).
    assert {name.removeprefix("LUMEN_").lower() for name in environment} <= set(Settings.model_fields)
    database = make_url(settings.database_url)
    assert database.drivername == "postgresql" and database.host in compose()["services"]
    postgres = compose()["services"]["postgres"]["environment"]
    assert (database.username, database.password, database.database) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
        postgres["POSTGRES_DB"],
    )
    assert settings.rate_limit_storage.startswith("redis://redis:")
    assert settings.public_base_url == "http://localhost:8000"
    assert settings.forwarded_allow_ips == "*"


def test_compose_takes_the_operators_values():
    environment = lumen_environment(
        {"POSTGRES_PASSWORD": "long-random", "LUMEN_PUBLIC_BASE_URL": "https://chat.acme.example"}
    )
    postgres = compose({"POSTGRES_PASSWORD": "long-random"})["services"]["postgres"]["environment"]

    assert (
        make_url(environment["LUMEN_DATABASE_URL"]).password == postgres["POSTGRES_PASSWORD"] == "long-random"
    )
    assert environment["LUMEN_PUBLIC_BASE_URL"] == "https://chat.acme.example"


@needs_postgres
@needs_redis
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_compose_deployment_started_as_processes_chats_through_both_replicas(serve, orders, tmp_path):
    assert POSTGRES_URL and REDIS_URL
    # compose.yaml's environment, with this machine's PostgreSQL and redis in place of the services'.
    environment = lumen_environment() | {
        "LUMEN_DATABASE_URL": POSTGRES_URL,
        "LUMEN_RATE_LIMIT_STORAGE": REDIS_URL,
    }
    env = lumen_env(**environment)
    services = compose()["services"]
    migrated = subprocess.run(
        [LUMEN, *services["migrate"]["command"][1:]], env=env, cwd=tmp_path, capture_output=True, timeout=60
    )
    assert migrated.returncode == 0, migrated.stderr
    serve_args = services["lumen"]["command"][2:]
    replicas = [serve(*serve_args, env=env)[1] for _ in range(services["lumen"]["deploy"]["replicas"])]

    # One conversation, its messages answered by one replica and then the other.
    assert "1Z999AA10123456784" in track(replicas)
    # One rate limit: a session's 20 messages a minute, counted by both replicas together.
    session = str(chat(replicas[0], "hi")["session"])
    answers = [
        httpx.post(f"{replicas[n % 2]}/api/chat", json={"session": session, "text": "hi"}, timeout=30)
        for n in range(20)
    ]
    assert [answer.status_code for answer in answers] == [200] * 19 + [429]
    assert all(httpx.get(f"{url}/readyz", timeout=10).status_code == 200 for url in replicas)
