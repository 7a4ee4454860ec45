"""The OCPP versions the virtual chargers speak, by their websocket subprotocol names.

Apart from the charger settings so that ``ocpp-core simulate --help`` can offer
them without loading the websocket and OCPP libraries.
"""

from __future__ import annotations

from typing import Final

SUPPORTED_PROTOCOLS: Final = ("ocpp1.6", "ocpp2.0.1")
