"""The build step pyproject.toml cannot declare: the wheel carries each language's compiled message
catalog (lumen.mo) next to its .po source, so an installed Lumen reads catalogs without compiling them."""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py

CATALOGS = "lumen_bot/locales/*/LC_MESSAGES/*.po"


class BuildWithCatalogs(build_py):
    def run(self) -> None:
        super().run()
        for source in sorted(Path(__file__).resolve().parent.glob(CATALOGS)):
            relative = source.relative_to(Path(__file__).resolve().parent)
            target = Path(self.build_lib) / relative.with_suffix(".mo")
            target.parent.mkdir(parents=True, exist_ok=True)
            with source.open("rb") as po, target.open("wb") as mo:
                write_mo(mo, read_po(po))


setup(cmdclass={"build_py": BuildWithCatalogs})
