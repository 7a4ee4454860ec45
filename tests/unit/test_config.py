"""Settings: defaults, OCPP_CORE_* variables, the TOML file, precedence and clear errors."""

import os
import socket
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

from ocpp_core.config import (
    ClusterSettings,
    ConfigError,
    HttpSettings,
    OcppSettings,
    PaymentSettings,
    ServerSettings,
    Settings,
    StripeSettings,
    TlsSettings,
    load_settings,
)
from ocpp_core.db.session import async_url

API_KEY = "0123456789abcdef"  # exactly the 16 characters required


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start from no OCPP_CORE_* variables, whatever the shell running the tests has set."""
    for name in list(os.environ):
        if name.startswith("OCPP_CORE_"):
            monkeypatch.delenv(name)


def write_toml(directory: Path, text: str) -> Path:
    path = directory / "ocpp-core.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    settings = load_settings()

    assert settings.database_url == "sqlite:///ocpp-core.sqlite"
    assert settings.migrate_on_start is True
    assert settings.api_key.get_secret_value() == ""
    assert settings.host == "127.0.0.1"
    assert settings.port == 8081
    assert settings.log_level == "info"
    assert settings.trusted_proxies == ()
    assert settings.ocpp == OcppSettings(
        subprotocols=("ocpp1.6", "ocpp2.0.1", "ocpp2.1"),
        id_token_type="ISO14443",
        heartbeat_interval=300,
        max_message_size=1_048_576,
        message_log_level=1,
        deny_concurrent_tx=False,
        command_timeout=30.0,
        keepalive_interval=50.0,
        keepalive_timeout=30.0,
        max_charger_power_w=400_000,
        data_transfer_vendors=(),
        local_list_sync_interval=10.0,
    )
    assert settings.tls == TlsSettings(
        certfile=None, keyfile=None, client_ca_file=None, require_client_cert=False
    )


def test_the_default_database_is_a_sqlite_file_in_the_working_directory() -> None:
    url = async_url(load_settings().database_url)

    assert url.drivername == "sqlite+aiosqlite"
    assert url.database == "ocpp-core.sqlite"


@pytest.mark.parametrize(
    "model",
    [
        Settings,
        OcppSettings,
        TlsSettings,
        HttpSettings,
        StripeSettings,
        PaymentSettings,
        ClusterSettings,
        ServerSettings,
    ],
)
def test_every_key_is_described(model: type[BaseModel]) -> None:
    nested = {
        "ocpp",
        "tls",
        "http",
        "stripe",
        "payments",
        "cluster",
    }  # sections describe their own keys
    undescribed = [
        name
        for name, field in model.model_fields.items()
        if not field.description and name not in nested
    ]

    assert undescribed == []


def test_environment_variables_with_prefix_and_nesting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environment = {
        "OCPP_CORE_DATABASE_URL": "postgresql://ocpp@db.example/ocpp",
        "OCPP_CORE_MIGRATE_ON_START": "false",
        "OCPP_CORE_API_KEY": API_KEY,
        "OCPP_CORE_HOST": "10.1.2.3",
        "OCPP_CORE_PORT": "9000",
        "OCPP_CORE_LOG_LEVEL": "debug",
        "OCPP_CORE_OCPP__HEARTBEAT_INTERVAL": "60",
        "OCPP_CORE_OCPP__MAX_MESSAGE_SIZE": "65536",
        "OCPP_CORE_OCPP__MESSAGE_LOG_LEVEL": "2",
        "OCPP_CORE_OCPP__DENY_CONCURRENT_TX": "true",
        "OCPP_CORE_OCPP__COMMAND_TIMEOUT": "5.5",
        "OCPP_CORE_OCPP__DATA_TRANSFER_VENDORS": '["acme", "example"]',
        "OCPP_CORE_TLS__CERTFILE": str(pem_file(tmp_path, "server.pem")),
        "OCPP_CORE_TLS__CLIENT_CA_FILE": str(pem_file(tmp_path, "ca.pem")),
        "OCPP_CORE_TLS__REQUIRE_CLIENT_CERT": "1",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    settings = load_settings()

    assert settings.database_url == "postgresql://ocpp@db.example/ocpp"
    assert settings.migrate_on_start is False
    assert settings.api_key.get_secret_value() == API_KEY
    assert (settings.host, settings.port, settings.log_level) == ("10.1.2.3", 9000, "debug")
    assert settings.ocpp.heartbeat_interval == 60
    assert settings.ocpp.max_message_size == 65536
    assert settings.ocpp.message_log_level == 2
    assert settings.ocpp.deny_concurrent_tx is True
    assert settings.ocpp.command_timeout == 5.5
    assert settings.ocpp.data_transfer_vendors == ("acme", "example")
    assert settings.ocpp.keepalive_interval == 50.0  # untouched keys of a section keep defaults
    assert settings.tls.certfile == tmp_path / "server.pem"
    assert settings.tls.require_client_cert is True


def test_unrelated_prefixed_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCPP_CORE_TEST_DATABASE_URL", "postgresql://elsewhere/db")

    assert load_settings().database_url == "sqlite:///ocpp-core.sqlite"


TOML = """
database_url = "postgresql://ocpp@db.example/ocpp"
api_key = "0123456789abcdef"
port = 7000

[ocpp]
heartbeat_interval = 120
message_log_level = 0
data_transfer_vendors = ["acme"]

[tls]
certfile = "DIR/server.pem"
client_ca_file = "DIR/ca.pem"
require_client_cert = true
"""


def toml_with_tls(directory: Path) -> Path:
    """TOML, its TLS files made in ``directory`` (settings check that they exist)."""
    for name in ("server.pem", "ca.pem"):
        pem_file(directory, name)
    return write_toml(directory, TOML.replace("DIR", directory.as_posix()))


def pem_file(directory: Path, name: str) -> Path:
    path = directory / name
    path.write_text("-----BEGIN CERTIFICATE-----\n", encoding="ascii")
    return path


def check_toml_values(settings: Settings) -> None:
    assert settings.database_url == "postgresql://ocpp@db.example/ocpp"
    assert settings.api_key.get_secret_value() == API_KEY
    assert settings.port == 7000
    assert settings.host == "127.0.0.1"
    assert settings.ocpp.heartbeat_interval == 120
    assert settings.ocpp.message_log_level == 0
    assert settings.ocpp.data_transfer_vendors == ("acme",)
    assert settings.ocpp.command_timeout == 30.0
    assert settings.tls.require_client_cert is True


def test_a_toml_file_given_as_argument(tmp_path: Path) -> None:
    check_toml_values(load_settings(config_file=toml_with_tls(tmp_path)))


def test_a_toml_file_named_by_ocpp_core_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OCPP_CORE_CONFIG", str(toml_with_tls(tmp_path)))

    check_toml_values(load_settings())


def test_the_argument_wins_over_ocpp_core_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OCPP_CORE_CONFIG", str(tmp_path / "missing.toml"))

    check_toml_values(load_settings(config_file=toml_with_tls(tmp_path)))


def test_precedence_overrides_then_environment_then_toml_then_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = write_toml(
        tmp_path,
        'host = "10.0.0.1"\nport = 7000\nlog_level = "error"\n'
        "[ocpp]\nheartbeat_interval = 120\nmax_message_size = 2048\n",
    )
    monkeypatch.setenv("OCPP_CORE_PORT", "8000")
    monkeypatch.setenv("OCPP_CORE_LOG_LEVEL", "warning")
    monkeypatch.setenv("OCPP_CORE_OCPP__HEARTBEAT_INTERVAL", "90")

    settings = load_settings(config_file=config, port=9000, host=None)

    assert settings.port == 9000  # override > environment > file
    assert settings.log_level == "warning"  # environment > file
    assert settings.host == "10.0.0.1"  # file > default; a None override means "not given"
    assert settings.ocpp.heartbeat_interval == 90  # environment > file, inside a section
    assert settings.ocpp.max_message_size == 2048  # the file's other keys of that section stay
    assert settings.ocpp.command_timeout == 30.0  # default


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [
        ("OCPP_CORE_OCPP__HEARTBEAT_INTERVAL", "abc", "ocpp.heartbeat_interval"),
        ("OCPP_CORE_OCPP__HEARTBEAT_INTERVAL", "0", "ocpp.heartbeat_interval"),
        ("OCPP_CORE_OCPP__MAX_MESSAGE_SIZE", "10", "ocpp.max_message_size"),
        ("OCPP_CORE_OCPP__MESSAGE_LOG_LEVEL", "3", "ocpp.message_log_level"),
        ("OCPP_CORE_OCPP__DENY_CONCURRENT_TX", "maybe", "ocpp.deny_concurrent_tx"),
        ("OCPP_CORE_OCPP__COMMAND_TIMEOUT", "-1", "ocpp.command_timeout"),
        ("OCPP_CORE_OCPP__SUBPROTOCOLS", '["ocpp0.1"]', "ocpp.subprotocols"),
        ("OCPP_CORE_PORT", "abc", "port"),
        ("OCPP_CORE_PORT", "70000", "port"),
        ("OCPP_CORE_LOG_LEVEL", "loud", "log_level"),
        ("OCPP_CORE_MIGRATE_ON_START", "sometimes", "migrate_on_start"),
        ("OCPP_CORE_MANAGEMENT__FIGURES_MAX_AGE_SECONDS", "-1", "management.figures_max_age"),
        ("OCPP_CORE_MANAGEMENT__FIGURES_MAX_AGE_SECONDS", "86401", "management.figures_max_age"),
        ("OCPP_CORE_DATABASE_URL", "mysql://root@localhost/ocpp", "database_url"),
        ("OCPP_CORE_TRUSTED_PROXIES", '["*"]', "trusted_proxies"),
        ("OCPP_CORE_TRUSTED_PROXIES", '["proxy.internal"]', "trusted_proxies"),
    ],
)
def test_a_wrong_environment_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, key: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert f"{variable} ({key}" in str(raised.value)


def test_trusted_proxies_are_addresses_and_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "OCPP_CORE_TRUSTED_PROXIES", '["127.0.0.1", " 10.1.2.3/8", "::1", "fd00::/8", "::1/128"]'
    )

    assert load_settings().trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8", "::1")


def test_an_environment_list_that_is_not_json_names_the_section(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OCPP_CORE_OCPP__DATA_TRANSFER_VENDORS", "acme,example")

    with pytest.raises(ConfigError, match=r"OCPP_CORE_OCPP__\* \(ocpp\): not valid JSON"):
        load_settings()


def test_a_wrong_toml_value_names_the_key(tmp_path: Path) -> None:
    config = write_toml(tmp_path, '[ocpp]\nheartbeat_interval = "often"\n')

    with pytest.raises(ConfigError) as raised:
        load_settings(config_file=config)

    assert "OCPP_CORE_OCPP__HEARTBEAT_INTERVAL (ocpp.heartbeat_interval)" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("heartbeat_interval = 60\n", "heartbeat_interval"),  # belongs in [ocpp]
        ("[ocpp]\nheartbeat = 60\n", "ocpp.heartbeat"),
        ("[billing]\nenabled = true\n", "billing"),
    ],
)
def test_an_unknown_toml_key_is_an_error(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"\({key}\): Extra inputs are not permitted"):
        load_settings(config_file=write_toml(tmp_path, text))


def test_a_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    config = write_toml(tmp_path, "port = \n")

    with pytest.raises(ConfigError, match=f"config file {config}"):
        load_settings(config_file=config)


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(config_file=tmp_path / "missing.toml")


def test_a_missing_file_named_by_ocpp_core_config_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OCPP_CORE_CONFIG", str(tmp_path / "missing.toml"))

    with pytest.raises(ConfigError, match=r"missing\.toml does not exist"):
        load_settings()


@pytest.mark.parametrize("key", ["", "short", API_KEY[:-1]])
def test_an_api_key_shorter_than_16_is_refused(key: str) -> None:
    settings = Settings(api_key=SecretStr(key))

    with pytest.raises(ConfigError, match="OCPP_CORE_API_KEY"):
        settings.require_api_key()


def test_an_api_key_of_16_characters_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCPP_CORE_API_KEY", API_KEY)
    settings = load_settings()

    settings.require_api_key()
    assert API_KEY not in repr(settings)


@pytest.mark.parametrize(
    ("given", "driver", "database"),
    [
        ("sqlite:///ocpp.sqlite", "sqlite+aiosqlite", "ocpp.sqlite"),
        ("sqlite:////var/lib/ocpp/db.sqlite", "sqlite+aiosqlite", "/var/lib/ocpp/db.sqlite"),
        ("sqlite+aiosqlite:///ocpp.sqlite", "sqlite+aiosqlite", "ocpp.sqlite"),
        ("postgresql://ocpp:pw@db.example:5433/ocpp", "postgresql+asyncpg", "ocpp"),
        ("postgres://ocpp:pw@db.example:5433/ocpp", "postgresql+asyncpg", "ocpp"),
        ("postgresql+psycopg2://ocpp:pw@db.example:5433/ocpp", "postgresql+asyncpg", "ocpp"),
        ("postgresql+asyncpg://ocpp:pw@db.example:5433/ocpp", "postgresql+asyncpg", "ocpp"),
    ],
)
def test_database_urls_get_the_async_driver(given: str, driver: str, database: str) -> None:
    url = async_url(given)

    assert url.drivername == driver
    assert url.database == database


def test_a_postgres_url_keeps_its_credentials_and_host() -> None:
    url = async_url("postgres://ocpp:s3cret@db.example:5433/ocpp?ssl=require")

    assert (url.username, url.password) == ("ocpp", "s3cret")
    assert (url.host, url.port) == ("db.example", 5433)
    assert url.query == {"ssl": "require"}


@pytest.mark.parametrize("given", ["mysql://root@localhost/ocpp", "oracle://x@y/z"])
def test_an_unsupported_database_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match="unsupported database"):
        async_url(given)


def test_cluster_mode_is_off_unless_a_redis_url_is_set() -> None:
    cluster = load_settings().cluster

    assert (cluster.redis_url, cluster.enabled, cluster.prefix) == ("", False, "ocpp-core")
    assert cluster.node_id == f"{socket.gethostname()}-{os.getpid()}"


def test_cluster_mode_on_sqlite_is_refused_naming_both_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OCPP_CORE_CLUSTER__REDIS_URL", "redis://127.0.0.1:6379/0")

    with pytest.raises(ConfigError) as refused:
        load_settings()

    message = str(refused.value)
    assert "OCPP_CORE_CLUSTER__REDIS_URL (cluster.redis_url) needs PostgreSQL" in message
    assert "OCPP_CORE_DATABASE_URL (database_url)" in message


def test_cluster_mode_on_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCPP_CORE_DATABASE_URL", "postgresql://ocpp@db/ocpp")
    monkeypatch.setenv("OCPP_CORE_CLUSTER__REDIS_URL", "redis://cache:6379/2")
    monkeypatch.setenv("OCPP_CORE_CLUSTER__NODE_ID", "node-a.eu")

    cluster = load_settings().cluster

    assert (cluster.enabled, cluster.redis_url, cluster.node_id) == (
        True,
        "redis://cache:6379/2",
        "node-a.eu",
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OCPP_CORE_CLUSTER__REDIS_URL", "http://cache:6379"),
        ("OCPP_CORE_CLUSTER__NODE_ID", "node a"),
        ("OCPP_CORE_CLUSTER__PREFIX", "ocpp:core"),
    ],
)
def test_a_wrong_cluster_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("OCPP_CORE_DATABASE_URL", "postgresql://ocpp@db/ocpp")
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError, match=variable):
        load_settings()
