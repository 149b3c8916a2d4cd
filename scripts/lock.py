#!/usr/bin/env python3
"""The lock files: exactly what ships and what the tests run against, every file by its hash.

- ``requirements.lock``: the server's dependencies (and the redis extra), as the Docker image installs them
  (``pip install --require-hashes``);
- ``requirements-test.lock``: the same pins, and the test tools (the test extra): ``scripts/test`` and CI.

Both are written by pip-tools' ``pip-compile --generate-hashes`` from ``pyproject.toml`` (pip-tools, not
uv: the lock is then a plain requirements file that the image's own pip installs, with no tool of ours in
the image). Each begins with a digest of the dependency tables it was made from, so ``--check`` tells a
lock left stale by a change to ``pyproject.toml``.

    scripts/lock.py            refresh both (pip-tools is installed in .venv-lock on first use)
    scripts/lock.py --check    exit 1, naming what is wrong, when a lock is stale or misses a requirement
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIP_TOOLS = "pip-tools==7.6.2"
# lock file → the extras it holds (the server's dependencies always).
LOCKS = {"requirements.lock": ("redis",), "requirements-test.lock": ("redis", "test")}
DIGEST = "# pyproject.toml dependencies sha256: "
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def requirements(project: dict, extras: tuple[str, ...]) -> list[str]:
    declared = project["project"]
    wanted = list(declared["dependencies"])
    for extra in extras:
        wanted += declared["optional-dependencies"][extra]
    return wanted


def digest(project: dict, extras: tuple[str, ...]) -> str:
    """Of the requirements a lock is made from, as pyproject.toml declares them (not its formatting)."""
    return hashlib.sha256(json.dumps(requirements(project, extras)).encode()).hexdigest()


def pins(lock: str) -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in _PIN.findall(lock)}


def problems(root: Path) -> list[str]:
    project = tomllib.loads((root / "pyproject.toml").read_text())
    found: list[str] = []
    pinned: dict[str, dict[str, str]] = {}
    for name, extras in LOCKS.items():
        path = root / name
        if not path.exists():
            found.append(f"{name} is missing: run scripts/lock.py")
            continue
        text = path.read_text()
        if f"{DIGEST}{digest(project, extras)}" not in text:
            found.append(f"{name} is older than pyproject.toml's dependencies: run scripts/lock.py")
        pinned[name] = pins(text)
        for line in requirements(project, extras):
            wanted = Requirement(line)
            version = pinned[name].get(canonicalize_name(wanted.name))
            if version is None:
                found.append(f"{name} has no pin for {wanted.name}")
            elif not wanted.specifier.contains(version, prereleases=True):
                found.append(f"{name} pins {wanted.name}=={version}, outside {wanted.specifier}")
    shipped, tested = pinned.get("requirements.lock", {}), pinned.get("requirements-test.lock", {})
    for package, version in shipped.items():
        if tested.get(package, version) != version:
            found.append(f"the tests would run {package}=={tested[package]}, the image ships {version}")
    return found


def pip_compile() -> Path:
    """pip-compile, in a virtual environment of its own (made once)."""
    tools = ROOT / ".venv-lock"
    if not (tools / "bin" / "pip-compile").exists():
        subprocess.run([sys.executable, "-m", "venv", str(tools)], check=True)
        subprocess.run([str(tools / "bin" / "pip"), "install", "--quiet", PIP_TOOLS], check=True)
    return tools / "bin" / "pip-compile"


def refresh() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    compiler = pip_compile()
    for name, extras in LOCKS.items():
        command = [
            str(compiler),
            "--quiet",
            "--generate-hashes",
            "--allow-unsafe",
            "--strip-extras",
            "--no-emit-index-url",
            "--no-emit-find-links",
            "--output-file",
            name,
            *(f"--extra={extra}" for extra in extras),
        ]
        if name != "requirements.lock":
            # The tests' lock keeps the shipped pins: it adds the test tools, it changes nothing else.
            command += ["--constraint", "requirements.lock"]
        subprocess.run([*command, "pyproject.toml"], check=True, cwd=ROOT)
        path = ROOT / name
        path.write_text(f"{DIGEST}{digest(project, extras)}\n{path.read_text()}")
        print(f"wrote {name}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only check the locks against pyproject.toml")
    parser.add_argument("--project", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.check:
        refresh()
    found = problems(args.project)
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
