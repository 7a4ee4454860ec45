"""The committed catalogues against the messages in the sources today."""

from __future__ import annotations

from ocpp_core.management import catalogues


def test_every_message_is_translated_with_its_placeholders_intact() -> None:
    """German covers every page; French, Dutch and Spanish every driver page.

    New wording fails this until ``scripts/translations.py update`` is run and
    the new entries are translated.
    """
    assert catalogues.problems(catalogues.extract()) == []
