#!/usr/bin/env python3
"""Extract every sentence Lumen says into lumen_bot/locales/lumen.pot and merge it into each language's .po.

    .venv/bin/python scripts/update_catalogs.py           # after changing or adding a message
    .venv/bin/python scripts/update_catalogs.py --check   # exit 1 when the template is not current

Messages are found with Babel's Python extractor: calls of ``say("…")`` (a
:class:`~lumen_bot.domain.speech.Speech`) and ``N_("…")``, in lumen_bot/ and channels/. A message new to a
language is left empty there (the catalog test then names it); one whose English changed is marked fuzzy
and must be checked by a translator. The wheel's build compiles the .po files (see setup.py).
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "lumen_bot/locales"
TEMPLATE = LOCALES / "lumen.pot"
SOURCES = ("lumen_bot", "channels")
KEYWORDS = {"say": None, "N_": None}
TRANSLATIONS = ("es", "de", "fr", "pt")


def extracted() -> Catalog:
    """The messages the code says now, each with where it is said."""
    template = Catalog(project="Lumen", domain="lumen", fuzzy=False)
    for folder in SOURCES:
        for filename, line, message, comments, context in extract_from_dir(
            ROOT / folder, keywords=KEYWORDS, comment_tags=("Translators:",), strip_comment_tags=True
        ):
            template.add(
                message, locations=[(f"{folder}/{filename}", line)], auto_comments=comments, context=context
            )
    return template


def as_text(catalog: Catalog, *, header: bool = False) -> str:
    """The catalog as a .po file, sorted by message, each with the files that say it but not the lines (an
    edit elsewhere in a file must not make the catalogs stale); the template has no header, whose creation
    date would make it differ from one extraction to the next."""
    buffer = io.BytesIO()
    write_po(
        buffer, catalog, omit_header=not header, sort_output=True, ignore_obsolete=True, include_lineno=False
    )
    return buffer.getvalue().decode("utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only check that lumen.pot is current")
    args = parser.parse_args(argv)
    template = extracted()
    text = as_text(template)
    if args.check:
        if not TEMPLATE.is_file() or TEMPLATE.read_text(encoding="utf-8") != text:
            print(f"{TEMPLATE.relative_to(ROOT)} is not current: run {sys.argv[0]}")
            return 1
        print("the message template is current")
        return 0
    TEMPLATE.write_text(text, encoding="utf-8")
    for language in TRANSLATIONS:
        path = LOCALES / language / "LC_MESSAGES/lumen.po"
        if path.is_file():
            with path.open("rb") as file:
                catalog = read_po(file, locale=language)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=language, project="Lumen", domain="lumen", fuzzy=False)
        catalog.update(template, update_creation_date=False)
        path.write_text(as_text(catalog, header=True), encoding="utf-8")
    print(f"wrote {TEMPLATE.relative_to(ROOT)} ({len(template)} messages) and {len(TRANSLATIONS)} catalogs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
