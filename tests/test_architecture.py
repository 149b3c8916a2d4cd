"""The dependency rule of DESIGN.md: the core never knows the channels."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).parent.parent / "lumen_bot"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_nothing_in_lumen_bot_imports_channels():
    offenders = [
        str(path.relative_to(CORE.parent))
        for path in CORE.rglob("*.py")
        if any(name == "channels" or name.startswith("channels.") for name in imported_modules(path))
    ]
    assert offenders == []


def test_the_engine_does_no_io():
    io_modules = {"sqlalchemy", "sqlmodel", "httpx", "openai", "instructor", "anyio", "asyncio"}
    for module in ("engine.py", "replies.py"):
        roots = {name.split(".")[0] for name in imported_modules(CORE / module)}
        assert roots.isdisjoint(io_modules), module
