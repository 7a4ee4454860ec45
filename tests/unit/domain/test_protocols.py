"""Which versions have a device model: the pages offer its page and commands by this alone."""

import pytest

from ocpp_core.config import OcppSettings
from ocpp_core.domain.protocols import has_device_model


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [("ocpp1.6", False), ("ocpp2.0.1", True), ("ocpp2.1", True), (None, False)],
)
def test_the_2x_versions_have_a_device_model_and_16_has_configuration_keys(
    protocol: str | None, expected: bool
) -> None:
    assert has_device_model(protocol) is expected


def test_every_version_the_server_speaks_is_known() -> None:
    """A version added to the server's subprotocols must be placed here too."""
    spoken = set(OcppSettings().subprotocols)
    assert {p for p in spoken if has_device_model(p)} == {"ocpp2.0.1", "ocpp2.1"}
    assert spoken - {"ocpp2.0.1", "ocpp2.1"} == {"ocpp1.6"}
