"""Choosing a page's language: the link, the cookie, ``Accept-Language``, then English."""

from __future__ import annotations

import pytest

from ocpp_core.management.i18n import (
    DRIVER_LANGUAGES,
    OPERATOR_LANGUAGES,
    choose,
    negotiate,
    offered_at,
    preferred,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("fr;q=0.4, nl;q=0.8", "nl"),
        ("es, fr", "es"),  # equal quality: the header's order
        ("de;q=0, fr", "fr"),  # q=0: not German
        ("ja, zh-CN;q=0.9", "en"),
        ("NL-be", "nl"),
        ("fr;q=nonsense, es;q=0.1", "es"),
        ("de;q=2, nl;q=0.5", "nl"),  # out of range: ignored
        ("", "en"),
        ("*", "en"),
    ],
)
def test_accept_language_is_negotiated_by_quality(header: str, expected: str) -> None:
    assert negotiate(header, DRIVER_LANGUAGES) == expected


def test_preferred_keeps_the_order_of_equal_qualities() -> None:
    assert preferred("en;q=0.5, de, fr;q=0.5, nl") == ["de", "nl", "en", "fr"]


def test_the_link_beats_the_cookie_which_beats_the_browser() -> None:
    def pick(asked: str | None, remembered: str | None) -> str:
        return choose(DRIVER_LANGUAGES, asked=asked, remembered=remembered, accept_language="de")

    assert pick("fr", "es") == "fr"
    assert pick(None, "es") == "es"
    assert pick("xx", "nl") == "nl"
    assert pick(None, None) == "de"


def test_an_operator_page_ignores_a_choice_it_does_not_offer() -> None:
    assert choose(OPERATOR_LANGUAGES, asked="fr", remembered=None, accept_language="de") == "de"


def test_driver_urls_offer_the_driver_languages() -> None:
    assert offered_at("/Public/Start") == DRIVER_LANGUAGES
    assert offered_at("/Payments/Status") == DRIVER_LANGUAGES
    assert offered_at("/cp/CP1/1") == DRIVER_LANGUAGES
    assert offered_at("/Home/ChargePoint") == OPERATOR_LANGUAGES
    assert offered_at("/") == OPERATOR_LANGUAGES
