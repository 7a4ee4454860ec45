"""The translators' side: the messages in the sources, merged into each language's ``.po``.

Used by ``scripts/translations.py`` and the catalogue tests, from a checkout of
the repository (``babel.cfg`` at its root says which files hold messages); the
app itself only reads the ``.po`` files, through :mod:`ocpp_core.management.i18n`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from ocpp_core.management.i18n import DOMAIN, DRIVER_LANGUAGES, LOCALE_DIR, NAMES, SOURCE_LANGUAGE

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "babel.cfg"
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
TRANSLATED = tuple(code for code in DRIVER_LANGUAGES if code != SOURCE_LANGUAGE)
# German covers everything; the other languages only what a driver can see.
COMPLETE = ("de",)
_TEMPLATES = "src/ocpp_core/management/templates/"
DRIVER_SOURCES = (
    f"{_TEMPLATES}public/",
    f"{_TEMPLATES}errors/",
    f"{_TEMPLATES}base.html",  # the error pages' frame
    f"{_TEMPLATES}_languages.html",
    "src/ocpp_core/management/app.py",  # the error pages' messages
)
_PLACEHOLDER = re.compile(r"%(?:\(\w+\))?.")  # %(name)s, %s, %% and a stray %


def extract() -> Catalog:
    """Every message the sources mark for translation, as they are now."""
    with CONFIG.open() as config:
        method_map, options_map = parse_mapping_cfg(config)  # type: ignore[no-untyped-call]
    template = _new_catalogue()
    found = extract_from_dir(ROOT, method_map, options_map, directory_filter=_in_sources)
    for filename, lineno, message, comments, context in found:
        path = Path(filename).as_posix()
        template.add(message, None, [(path, lineno)], auto_comments=comments, context=context)
    return template


def _new_catalogue(code: str | None = None) -> Catalog:
    return Catalog(
        locale=code,
        domain=DOMAIN,
        project="ocpp-core",
        header_comment="# The ocpp-core pages' messages; see scripts/translations.py.\n#",
        last_translator="ocpp-core contributors",
        language_team=NAMES[code] if code else None,
        fuzzy=False,
    )


def _in_sources(path: str) -> bool:
    relative = Path(path).relative_to(ROOT).as_posix()
    return relative == "src" or relative.startswith("src/ocpp_core")


def po_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(code: str) -> Catalog:
    with po_path(code).open("rb") as po:
        return read_po(po, locale=code, domain=DOMAIN)


def write(catalog: Catalog, path: Path) -> None:
    """Without line numbers or obsolete entries, so a diff shows only changed messages."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as po:
        write_po(po, catalog, width=100, ignore_obsolete=True, include_lineno=False)


def update(template: Catalog) -> list[Path]:
    """Merges the template into every language's catalogue, starting any that is missing."""
    written = []
    for code in TRANSLATED:
        path = po_path(code)
        catalog = read(code) if path.is_file() else _new_catalogue(code)
        catalog.update(template)
        write(catalog, path)
        written.append(path)
    return written


def problems(template: Catalog) -> list[str]:
    """Missing translations and translations whose placeholders differ from the English."""
    found = []
    for code in TRANSLATED:
        catalog = read(code)
        for message in template:
            if not message.id:
                continue  # the header
            translated = catalog.get(message.id, message.context)
            if translated is None or translated.fuzzy or not _filled(translated):
                if code in COMPLETE or is_driver_message(message):
                    found.append(f"{code}: not translated: {_first(message)!r}")
            elif _placeholders_differ(translated):
                found.append(f"{code}: placeholders differ: {_first(message)!r}")
    return found


def is_driver_message(message: Message) -> bool:
    return any(path.startswith(DRIVER_SOURCES) for path, _ in message.locations)


def _first(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def _texts(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _filled(message: Message) -> bool:
    texts = _texts(message.string)
    return bool(texts) and all(texts)


def _placeholders_differ(message: Message) -> bool:
    english = {token for text in _texts(message.id) for token in _PLACEHOLDER.findall(text)}
    return any(set(_PLACEHOLDER.findall(text)) != english for text in _texts(message.string))
