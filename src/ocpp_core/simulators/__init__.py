"""Virtual devices that exercise the central system in demos, tests and load runs."""
