"""What ocpp-core is measured against: a raw echo (the floor) and the bare library."""
