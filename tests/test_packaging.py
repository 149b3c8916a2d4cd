"""The installed package: built as a wheel from the source tree, it holds every module and the prompts."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the source tree (the build leaves its files beside the sources)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("lumen_bot", "channels", "prompts"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", out, source],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = out.glob("lumen_bot-*.whl")
    return built


def expected_files() -> set[str]:
    """Every module and data file of the source tree, where the installed package keeps it."""
    files = {
        path.relative_to(ROOT).as_posix()
        for folder in ("lumen_bot", "channels")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".py", ".csv", ".js", ".html", ".css", ".gz", ".po", ".pot"}
    }
    files |= {
        f"lumen_bot/prompts/{path.name}"
        for path in (ROOT / "prompts").iterdir()
        if path.suffix in {".py", ".md", ".jsonl"}
    }
    return files


def test_the_wheel_holds_every_module_the_demo_orders_and_the_prompts(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())

    assert "lumen_bot/prompts/understanding_system.md" in names
    assert expected_files() <= names


def run_installed(wheel: Path, tmp_path: Path, program: str) -> str:
    """What ``program`` prints, run with the wheel's files as the only copy of Lumen on the path."""
    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    result = subprocess.run(
        [sys.executable, "-c", program],
        env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_the_prompts_load_from_the_installed_wheel(wheel, tmp_path):
    program = (
        "import lumen_bot; from lumen_bot.llm.prompts import load_prompts;"
        "print(lumen_bot.__file__);"
        "print(load_prompts().messages(shop_name='Acme', text='hi', last_question=None)[0]['content'])"
    )

    module_file, prompt = run_installed(wheel, tmp_path, program).split("\n", 1)

    assert Path(module_file).is_relative_to(tmp_path / "site")
    assert "order-tracking assistant of Acme" in prompt


def test_the_demo_orders_load_from_the_installed_wheel(wheel, tmp_path):
    program = "from lumen_bot.domain.demo import demo_orders; print(min(o.number for o in demo_orders()))"

    assert run_installed(wheel, tmp_path, program).strip() == "1001"


def test_the_understanding_model_loads_from_the_installed_wheel(wheel, tmp_path):
    program = (
        "from lumen_bot.trained.model_file import load_understanding_model;"
        "print(' '.join(load_understanding_model().languages.classes))"
    )

    assert run_installed(wheel, tmp_path, program).split() == ["de", "en", "es", "fr", "pt"]


def test_the_wheel_carries_each_languages_compiled_catalog(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())

    assert {f"lumen_bot/locales/{code}/LC_MESSAGES/lumen.mo" for code in ("es", "de", "fr", "pt")} <= names


def test_the_installed_wheel_speaks_from_its_compiled_catalogs(wheel, tmp_path):
    program = (
        "import datetime, gettext; from lumen_bot.locales import voices;"
        "voices.compile_po = None;"  # a wheel must not need the .po sources
        "say = voices.load_voices(['es'], datetime.UTC)['es'];"
        "print(say('Talk to a person')); print(say.long_date(datetime.date(2026, 12, 1)))"
    )

    person, day = run_installed(wheel, tmp_path, program).splitlines()

    assert person != "Talk to a person"
    assert day == "martes, 1 de diciembre"
