"""Page keys: what a link carries reads back as the key it was written from, or is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.exceptions import HTTPException

from ocpp_core.db.models import Connector, MessageLogEntry, PaymentReservation
from ocpp_core.management.listing import Keyset
from ocpp_core.params import MAX_DB_INT

CONNECTORS = Keyset((Connector.charge_point_id, Connector.connector_id), 50)
PAYMENTS = Keyset((PaymentReservation.created_at, PaymentReservation.id), 50, descending=True)
LOG = Keyset((MessageLogEntry.logged_at, MessageLogEntry.id), 50, descending=True)

_TIMES = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)
)


@given(st.text(min_size=1, max_size=100), st.integers(0, MAX_DB_INT))
def test_a_text_key_with_underscores_reads_back(charge_point_id: str, connector_id: int) -> None:
    key = (charge_point_id, connector_id)

    assert CONNECTORS.read(CONNECTORS.write(key)) == key


@given(_TIMES, st.text(min_size=1, max_size=36))
def test_a_time_and_a_text_read_back(created_at: datetime, reservation_id: str) -> None:
    key = (created_at, reservation_id)

    assert PAYMENTS.read(PAYMENTS.write(key)) == key


def test_the_message_logs_keys_keep_their_form() -> None:
    """Links written before the lists shared their keys still open the same page."""
    assert LOG.read("1764331200000000_42") == (datetime(2025, 11, 28, 12, tzinfo=UTC), 42)
    assert LOG.read("") is None


@pytest.mark.parametrize(
    ("keyset", "text"),
    [
        (CONNECTORS, "CP1"),  # no number
        (CONNECTORS, "CP1_x"),
        (CONNECTORS, f"CP1_{MAX_DB_INT + 1}"),  # past the column
        (PAYMENTS, "123"),  # no id
        (PAYMENTS, "-5_r1"),  # before 1970
        (PAYMENTS, f"{10**17 + 1}_r1"),  # past any date
        (LOG, "1_2_3"),  # one part too many
        (LOG, f"1_{2**63}"),
    ],
)
def test_a_key_no_list_wrote_is_a_bad_request(keyset: Keyset, text: str) -> None:
    with pytest.raises(HTTPException) as refused:
        keyset.read(text)

    assert refused.value.status_code == 400
