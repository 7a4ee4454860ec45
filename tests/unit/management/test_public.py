"""The driver pages' pure parts: tags, the start rate limit, prices, the status view."""

from __future__ import annotations

import base64

from ocpp_core.domain.pricing import Tariff
from ocpp_core.management.public import RateLimiter, new_tag
from ocpp_core.management.public_station import prices_of
from ocpp_core.management.public_status import session_view


def test_a_generated_tag_is_web_and_16_base32_characters() -> None:
    tags = {new_tag() for _ in range(100)}
    assert len(tags) == 100
    for tag in tags:
        assert len(tag) == 20
        assert tag.startswith("WEB-")
        assert len(base64.b32decode(tag[4:])) == 10


def test_the_rate_limit_counts_a_sliding_minute_per_address() -> None:
    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    assert [limiter.hit("a") for _ in range(3)] == [None, None, None]
    assert limiter.hit("a") == 60.0
    assert limiter.hit("b") is None  # another address has its own count
    now[0] = 30.0
    assert limiter.hit("a") == 30.0  # refused hits don't count
    now[0] = 60.0
    assert limiter.hit("a") is None


def test_prices_show_every_component_and_the_hold() -> None:
    prices = prices_of(
        Tariff(
            price_kwh_millicents=35_500,
            session_fee_cents=150,
            usage_fee_minute_millicents=5_000,
            usage_grace_minutes=10,
            usage_max_minutes=60,
            max_energy_wh=22_500,
        )
    )
    assert (prices.per_kwh, prices.session_fee, prices.usage_fee) == (
        "0.355 EUR",
        "1.50 EUR",
        "0.05 EUR",
    )
    assert (prices.usage_grace_minutes, prices.usage_max_amount) == (10, "3.00 EUR")
    assert (prices.max_kwh, prices.usage_after_charging) == ("22.5", False)
    assert prices.hold == "12.49 EUR"  # 7.9875 → 7.99, + 3.00 + 1.50
    assert prices_of(Tariff(free=True)).free
    assert not prices_of(Tariff()).configured  # no price: not startable, not free


def test_the_status_view_tolerates_missing_fields() -> None:
    view = session_view({"sessionStage": "charging"})
    assert (view.stage, view.final, view.can_stop, view.receipt) == ("charging", False, True, None)
    done = session_view(
        {
            "sessionStage": "done",
            "currency": "eur",
            "receipt": {"energyWh": 12_500, "capturedCents": 600, "moneyState": "CapturePending"},
        }
    )
    assert done.final is False  # the capture is still to come: keep refreshing
    assert done.receipt is not None
    assert (done.receipt.captured, done.receipt.settled) == ("6.00 EUR", False)
