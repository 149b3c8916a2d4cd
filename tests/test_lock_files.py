"""The lock files hold exactly what pyproject.toml asks for: a change to its dependencies without a new lock
fails here (``scripts/lock.py`` refreshes both)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def check(project: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lock.py"), "--check", "--project", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )


def copy_of_the_project(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "requirements.lock", "requirements-test.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_the_locks_are_up_to_date_with_pyproject():
    result = check()

    assert result.returncode == 0, result.stderr


def test_a_dependency_added_without_a_new_lock_fails_the_check(tmp_path):
    project = copy_of_the_project(tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('    "babel>=2.14",\n', '    "babel>=2.14",\n    "rich>=13",\n', 1)
    )

    result = check(project)

    assert result.returncode == 1
    assert "requirements.lock is older than pyproject.toml's dependencies" in result.stderr


def test_a_pin_outside_what_pyproject_allows_fails_the_check(tmp_path):
    project = copy_of_the_project(tmp_path)
    lock = project / "requirements.lock"
    lock.write_text(lock.read_text().replace("\nfastapi==0.165.0 ", "\nfastapi==0.100.0 "))

    result = check(project)

    assert result.returncode == 1
    assert "requirements.lock pins fastapi==0.100.0, outside >=0.115" in result.stderr


def test_the_tests_run_the_versions_the_image_ships(tmp_path):
    project = copy_of_the_project(tmp_path)
    lock = project / "requirements-test.lock"
    lock.write_text(lock.read_text().replace("\nstarlette==1.10.0 ", "\nstarlette==1.9.0 "))

    result = check(project)

    assert "the tests would run starlette==1.9.0, the image ships 1.10.0" in result.stderr
