"""The server app: OCPP websockets, the JSON API, metrics."""
