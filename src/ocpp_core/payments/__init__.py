"""Paid (and free) sessions: reservations, the Stripe gateway, settlement, sweeps."""
