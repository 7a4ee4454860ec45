"""The cluster tests' fixtures (see ``cluster_harness``)."""

from cluster_harness import prefix, redis

__all__ = ["prefix", "redis"]
