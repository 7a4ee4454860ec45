"""Version-independent domain model: no OCPP wire formats, no I/O."""
