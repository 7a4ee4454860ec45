"""ocpp-core: an OCPP central system with pay-by-QR charging."""
