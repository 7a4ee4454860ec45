"""Steps that find their reservation gone: deleted with its charge point while the step
was on its way (spawned work, a browser's return, a late payment's release).

Each ends there, without a write and without a call to Stripe.
"""

from __future__ import annotations

from sqlalchemy import func, select

from integration.payments.payflow import CP, payments_of
from ocpp_core.db.models import ChargerReservation, PaymentReservation
from ocpp_core.payments import authorizing, holding, late
from servers import RunningServer
from stripe_harness import StripeSim

GONE = "00000000-0000-4000-8000-000000000000"


async def test_steps_for_a_reservation_gone_meanwhile_end_without_a_trace(
    server: RunningServer, stripe_sim: StripeSim
) -> None:
    payments = payments_of(server)

    authorized = await authorizing.authorize_payment(payments, GONE, "cs_test_gone")
    held = await holding.reserve(payments, GONE, holding.Reserve(CP, ask_support=False))
    await late.release(payments, GONE, "pi_test_gone")
    await payments.drain()

    assert (authorized, held) == ("NotFound", False)
    assert await stripe_sim.calls() == []
    async with server.runtime.db.reading() as session:
        for table in (PaymentReservation, ChargerReservation):
            assert await session.scalar(select(func.count()).select_from(table)) == 0
