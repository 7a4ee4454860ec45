"""Benchmarks: ocpp-core under load, next to the baselines it is measured against."""
