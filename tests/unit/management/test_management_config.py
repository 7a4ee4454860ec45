"""The ``management.*`` settings: defaults, environment variables, refusing weak secrets."""

import os

import pytest
from pydantic import SecretStr

from ocpp_core.config import ConfigError, ManagementSettings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OCPP_CORE_"):
            monkeypatch.delenv(name)


def test_defaults() -> None:
    assert load_settings().management == ManagementSettings(
        host="127.0.0.1",
        port=8082,
        server_api_url="http://127.0.0.1:8081",
        server_api_timeout=4.0,
        session_secret=SecretStr(""),
        session_hours=12,
        session_max_days=7,
        secure_cookies=False,
        login_max_failures=5,
        login_max_failures_per_address=20,
        login_window_minutes=15,
        dashboard_refresh_seconds=5.0,
    )


def test_every_key_is_described() -> None:
    assert [n for n, f in ManagementSettings.model_fields.items() if not f.description] == []


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCPP_CORE_MANAGEMENT__PORT", "9082")
    monkeypatch.setenv("OCPP_CORE_MANAGEMENT__SERVER_API_URL", "https://csms.example:8443/")
    monkeypatch.setenv("OCPP_CORE_MANAGEMENT__SESSION_SECRET", "s" * 32)
    monkeypatch.setenv("OCPP_CORE_MANAGEMENT__SECURE_COOKIES", "true")

    management = load_settings().management

    assert management.port == 9082
    assert management.server_api_url == "https://csms.example:8443"  # no trailing slash
    assert management.session_secret.get_secret_value() == "s" * 32
    assert management.secure_cookies is True
    management.require_session_secret()  # 32 characters are enough


def test_a_server_api_url_must_be_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCPP_CORE_MANAGEMENT__SERVER_API_URL", "ftp://csms")

    with pytest.raises(ConfigError, match="OCPP_CORE_MANAGEMENT__SERVER_API_URL"):
        load_settings()


@pytest.mark.parametrize("secret", ["", "s" * 31])
def test_a_missing_or_short_session_secret_is_refused_by_name(secret: str) -> None:
    management = ManagementSettings(session_secret=SecretStr(secret))

    with pytest.raises(ConfigError, match="OCPP_CORE_MANAGEMENT__SESSION_SECRET"):
        management.require_session_secret()


def test_the_session_secret_is_never_shown() -> None:
    management = ManagementSettings(session_secret=SecretStr("a-very-secret-value-" * 2))

    assert "a-very-secret-value" not in repr(management)
    assert "a-very-secret-value" not in str(
        load_settings().model_copy(update={"management": management})
    )
