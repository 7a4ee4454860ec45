"""The fleet data set's fixtures (see ``fleet_harness``)."""

from fleet_harness import fleet_site, fleet_url  # noqa: F401
