"""The cluster tests' fixtures (see ``cluster_harness``)."""

from cluster_harness import prefix

__all__ = ["prefix"]
