"""The charger-facing side: websocket endpoint, framing, schemas, protocol adapters, routing."""
