"""The records of the Stripe events handled, by which a second delivery is recognised.

Inserted by the driver (see db.detached) in the unit of work of the change the
event caused: a second delivery of the same event breaks the record's key, an
IntegrityError at once.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.detached import Rows
from ocpp_core.db.models import StripeWebhookEvent

_EVENTS = Rows(StripeWebhookEvent)


async def remember(session: AsyncSession, record: StripeWebhookEvent) -> None:
    await _EVENTS.insert(session, record)
