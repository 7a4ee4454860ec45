"""Settings: one typed class, read from a TOML file and ``OCPP_CORE_*`` variables.

Precedence, highest first: command-line flags, environment variables, the TOML
file (``--config`` or ``OCPP_CORE_CONFIG``), the defaults below. A wrong value
stops start-up with :class:`ConfigError`, which names the offending key the way
the user would write it (the environment variable and the TOML path).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from ocpp_core.security import OPERATOR_COST, ScryptCost

ENV_PREFIX = "OCPP_CORE_"
CONFIG_ENV_VAR = "OCPP_CORE_CONFIG"
MIN_API_KEY_LENGTH = 16
MIN_SESSION_SECRET_LENGTH = 32

_toml_file: ContextVar[Path | None] = ContextVar("_toml_file", default=None)


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Subprotocol = Literal["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]
IdTokenType = Literal[
    "Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "NoAuthorization"
]


class OcppSettings(_Section):
    """The charger-facing side."""

    subprotocols: tuple[Subprotocol, ...] = Field(
        default=("ocpp1.6", "ocpp2.0.1", "ocpp2.1"),
        min_length=1,
        description="Accepted OCPP subprotocols, in order of preference.",
    )
    id_token_type: IdTokenType = Field(
        default="ISO14443",
        description="idToken type of remote starts on 2.x chargers (some refuse Central).",
    )
    heartbeat_interval: int = Field(
        default=300, gt=0, le=86_400, description="Seconds, sent in BootNotification."
    )
    max_message_size: int = Field(
        default=1_048_576,
        ge=1024,
        description="Bytes; a bigger frame closes the socket with 1009.",
    )
    # An int range, not Literal[0, 1, 2]: a Literal refuses the string "2" an env var holds.
    message_log_level: int = Field(
        default=1,
        ge=0,
        le=2,
        description="0 none, 1 all but Boot/Heartbeat/Status/DataTransfer, 2 all.",
    )
    # A normal MeterValues (a few sampled values) is well under 2 KiB; a CALLERROR's
    # details or a DataTransfer can be as big as a frame, and the log page shows them.
    message_log_max_bytes: int = Field(
        default=4096,
        ge=256,
        le=1_048_576,
        description="Bytes the message log keeps of a message or an answer; more is cut.",
    )
    message_log_retention_days: int = Field(
        default=30, ge=0, le=36_500, description="Days the message log keeps; 0 keeps it for ever."
    )
    deny_concurrent_tx: bool = Field(
        default=False, description="Reject a tag that already has an open transaction."
    )
    command_timeout: float = Field(
        default=30.0, gt=0, le=600, description="Seconds to wait for a charger's answer."
    )
    # Each ping and its pong cost the server about 0.1 ms: 30 s took a 19,000-charger
    # fleet's idle load to 5.7 % of a core. 50 s (with the 10 % spread, at most 55 s)
    # still beats the 60 s idle timeout of common proxies and load balancers.
    keepalive_interval: float = Field(
        default=50.0, gt=0, description="Seconds between websocket pings to each charger."
    )
    keepalive_timeout: float = Field(
        default=30.0, gt=0, description="Seconds without a pong before a charger is offline."
    )
    max_charger_power_w: int = Field(
        default=400_000,
        gt=0,
        description="Fastest plausible charger; energy rising faster is kept for review.",
    )
    data_transfer_vendors: tuple[str, ...] = Field(
        default=(),
        description="Vendor ids whose DataTransfer is Accepted (others: UnknownVendorId).",
    )
    local_list_sync_interval: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="Seconds between two sweeps of the due local lists; 0: none on this node.",
    )


class DatabaseSettings(_Section):
    """How long to wait for PostgreSQL before giving up (SQLite is a local file).

    A database that went away must give errors within seconds, not hang every
    charger's answer until the operating system gives up on the connection.
    """

    connect_timeout: float = Field(
        default=5.0, gt=0, le=600, description="Seconds to open a connection (TCP, TLS, login)."
    )
    command_timeout: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="Seconds one statement may take; raise it if big reports need longer.",
    )
    pool_timeout: float = Field(
        default=10.0, gt=0, le=600, description="Seconds to wait for a free pooled connection."
    )


class TlsSettings(_Section):
    """TLS for the listener (OCPP security profiles 2 and 3)."""

    certfile: FilePath | None = Field(default=None, description="Server certificate (PEM).")
    keyfile: FilePath | None = Field(default=None, description="Server private key (PEM).")
    client_ca_file: FilePath | None = Field(
        default=None, description="CA bundle that signs charger certificates (profile 3)."
    )
    require_client_cert: bool = Field(
        default=False, description="Refuse TLS handshakes without a client certificate."
    )

    @model_validator(mode="after")
    def _complete(self) -> TlsSettings:
        """Refuse halves of a TLS set-up rather than quietly serving plain ws://."""
        if self.certfile is None:
            given = [name for name in ("keyfile", "client_ca_file") if getattr(self, name)]
            given += ["require_client_cert"] if self.require_client_cert else []
            if given:
                raise _rule(
                    f"{_names(given)} {'needs' if len(given) == 1 else 'need'} "
                    f"{_names(['certfile'])}: without a server certificate the server "
                    "listens on plain ws://"
                )
        elif self.require_client_cert and self.client_ca_file is None:
            raise _rule(
                f"{_names(['require_client_cert'])} needs {_names(['client_ca_file'])}: "
                "without the CA that signs the chargers' certificates none can be verified"
            )
        return self


def _names(keys: list[str]) -> str:
    """TLS keys as the user writes them: the environment variable and the TOML path."""
    return ", ".join(f"{ENV_PREFIX}TLS__{key.upper()} (tls.{key})" for key in keys)


def _rule(message: str) -> PydanticCustomError:
    """A rule between keys; its message names them itself (see :func:`_describe`)."""
    return PydanticCustomError(_RULE, message)


_RULE = "config_rule"


class HttpSettings(_Section):
    """What an HTTP client may make a listener hold: time and bytes, on every port."""

    header_timeout: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Seconds to send a whole request head, from connecting or its first byte.",
    )
    body_timeout: float = Field(
        default=30.0, gt=0, le=3600, description="Seconds to send a request body after its head."
    )
    # Above httpx's 5 s pool expiry, so the management app's own calls to the API never race
    # the server closing the connection they are about to reuse.
    keepalive_timeout: float = Field(
        default=10.0, gt=0, le=600, description="Seconds an idle keep-alive connection stays open."
    )
    max_header_size: int = Field(
        default=32_768, ge=4096, description="Bytes of one request head; more closes with 431."
    )
    # Sized so that the largest body parses in a few ms on the event loop that serves the
    # chargers. The API's JSON bodies are under 1 KiB; 1 MiB of unknown keys held the loop
    # for over a second, 16 KiB of the worst JSON takes about 3 ms. Forms parse in pure
    # Python: 13 ms for 64 KiB of multipart fields, 5 ms for 16 KiB. A webhook is parsed
    # only once its signature checks out; until then it is only hashed (under 1 ms a MiB).
    api_max_body: int = Field(
        default=16_384, ge=1024, description="Bytes of one /API request body; more is a 413."
    )
    webhook_max_body: int = Field(
        default=262_144, ge=1024, description="Bytes of one Stripe webhook event; more is a 413."
    )
    management_max_body: int = Field(
        default=16_384, ge=1024, description="Bytes of one management form; more is a 413."
    )


class StripeSettings(_Section):
    """Stripe Checkout with manual capture; off unless enabled with a key and return URL."""

    enabled: bool = Field(default=False, description="Take card payments through Stripe.")
    api_key: SecretStr = Field(default=SecretStr(""), description="Secret key (sk_live_/sk_test_).")
    webhook_secret: SecretStr = Field(
        default=SecretStr(""), description="Signing secret of the webhook endpoint (whsec_...)."
    )
    return_base_url: str = Field(
        default="", description="Public base URL of the pages Stripe returns the driver to."
    )
    currency: str = Field(
        default="eur", pattern=r"^[a-z]{3}$", description="ISO 4217 code, lower case."
    )
    product_name: str = Field(
        default="EV charging session", max_length=200, description="Line item shown at checkout."
    )
    api_base: str = Field(
        default="https://api.stripe.com", description="Stripe API base (the simulator in tests)."
    )
    timeout: float = Field(default=20.0, gt=0, description="Seconds per Stripe API call.")

    def problem(self) -> str | None:
        """Why enabled Stripe can't work, naming the missing key; None if it can."""
        if not self.enabled:
            return None
        missing = [
            name
            for name, value in (
                ("API_KEY", self.api_key.get_secret_value()),
                ("WEBHOOK_SECRET", self.webhook_secret.get_secret_value()),
                ("RETURN_BASE_URL", self.return_base_url),
            )
            if not value
        ]
        if missing:
            names = ", ".join(f"{ENV_PREFIX}STRIPE__{name}" for name in missing)
            return f"Stripe is enabled but {names} is not set"
        return None


class PaymentSettings(_Section):
    """How paid and free sessions run: deadlines, minimums, sweeps."""

    start_window_minutes: int = Field(
        default=5, ge=1, le=120, description="After payment, minutes to plug in and start."
    )
    checkout_expiry_minutes: int = Field(
        default=30, ge=30, le=1440, description="Lifetime of a Checkout Session (Stripe: 30+)."
    )
    pending_payment_timeout_minutes: int = Field(
        default=35,
        ge=1,
        description="An unpaid reservation older than this is abandoned and its session expired.",
    )
    unpaid_hold_minutes: int = Field(
        default=5,
        ge=1,
        le=1440,
        description="An unpaid reservation keeps other drivers off its connector this long.",
    )
    require_plug_before_start: bool = Field(
        default=True,
        description=(
            "Wait for the connector to report Preparing before the remote start; a charger "
            "that takes reservations is reserved and started at once instead."
        ),
    )
    min_session_energy_wh: int = Field(
        default=1000, ge=0, description="Below this the session is not charged (hold released)."
    )
    min_charge_cents: int = Field(
        default=50, ge=0, description="A smaller amount is not captured (hold released)."
    )
    disconnect_grace_seconds: int = Field(
        default=300,
        ge=0,
        description="Available this long with a transaction open: the session is closed.",
    )
    sweep_interval_seconds: float = Field(
        default=30.0, gt=0, description="How often the reservation sweeps run."
    )
    retry_base_seconds: float = Field(
        default=60.0, gt=0, description="First back-off of a failed capture or release."
    )
    max_attempts: int = Field(
        default=8, ge=1, le=50, description="Capture/release attempts before review is required."
    )
    # Stripe cancels an uncaptured card authorization after 7 days; releasing well
    # before that keeps the decision ours, with a day's margin for sweeps and retries.
    review_release_after_hours: int = Field(
        default=96,
        ge=1,
        le=144,
        description="A meter review nobody decided is released this long after the hold.",
    )


class ManagementSettings(_Section):
    """The operator web app: where it listens, how it reaches the server, its sessions."""

    host: str = Field(default="127.0.0.1", description="Listen address of the management app.")
    port: int = Field(
        default=8082, ge=0, le=65_535, description="Listen port of the management app."
    )
    server_api_url: str = Field(
        default="http://127.0.0.1:8081",
        description="Base URL of the server's /API (sent with X-API-Key: api_key).",
    )
    server_api_timeout: float = Field(
        default=4.0, gt=0, le=120, description="Seconds to wait for the server's live status."
    )
    session_secret: SecretStr = Field(
        default=SecretStr(""),
        description=f"Signs the session cookie ({MIN_SESSION_SECRET_LENGTH}+ characters).",
    )
    session_hours: int = Field(
        default=12, ge=1, le=24 * 30, description="Hours a login lasts without any request."
    )
    session_max_days: int = Field(
        default=7, ge=1, le=365, description="Days a login lasts at most, however busy."
    )
    secure_cookies: bool = Field(
        default=False, description="Send the session cookie only over https (set behind TLS)."
    )
    login_max_failures: int = Field(
        default=5, ge=1, le=1000, description="Failed logins per name and address per window."
    )
    login_max_failures_per_address: int = Field(
        default=20, ge=1, le=10_000, description="Failed logins per address, any name, per window."
    )
    login_window_minutes: int = Field(
        default=15, ge=1, le=1440, description="Minutes a failed login counts towards the limits."
    )
    dashboard_refresh_seconds: float = Field(
        default=5.0, ge=0.5, le=3600, description="How often the dashboard tiles refresh."
    )
    max_exports: int = Field(
        default=2, ge=1, le=100, description="Transaction exports written at once, on all nodes."
    )
    operator_name: str = Field(
        default="", max_length=200, description="Operator name shown to drivers (public pages)."
    )
    support_email: str = Field(
        default="", max_length=200, description="Support e-mail shown to drivers (public pages)."
    )
    support_phone: str = Field(
        default="", max_length=50, description="Support phone shown to drivers (public pages)."
    )
    public_starts_per_minute: int = Field(
        default=10, ge=1, le=10_000, description="Public start requests per client address/min."
    )
    public_status_refresh_seconds: float = Field(
        default=3.0, ge=0.5, le=600, description="How often a driver's status page refreshes."
    )
    figures_max_age_seconds: int = Field(
        default=300,
        ge=0,
        le=86_400,
        description=(
            "Seconds a chart's or report's figures are kept before recomputed, and how often "
            "the quick choices' are recomputed in the background; 0: computed on every view."
        ),
    )
    password_cost: int = Field(
        default=OPERATOR_COST.log2_n,
        ge=10,
        le=20,
        description="scrypt's cost for operator passwords, log2 N: each step doubles a login.",
    )

    @field_validator("server_api_url")
    @classmethod
    def _api_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if urlsplit(value).scheme not in {"http", "https"} or not urlsplit(value).netloc:
            raise ValueError("must start with http:// or https:// and name a host")
        return value

    @property
    def password_hash_cost(self) -> ScryptCost:
        return ScryptCost(log2_n=self.password_cost)

    def require_session_secret(self) -> None:
        """Refuse to sign sessions with a guessable secret (there is no safe default)."""
        if len(self.session_secret.get_secret_value()) < MIN_SESSION_SECRET_LENGTH:
            raise ConfigError(
                f"{ENV_PREFIX}MANAGEMENT__SESSION_SECRET (management.session_secret): set a "
                f"secret of at least {MIN_SESSION_SECRET_LENGTH} characters, e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )


_NAME = r"^[A-Za-z0-9._-]{1,64}$"  # a node id or key prefix: safe in Redis keys and channels


def default_node_id() -> str:
    """Host name and process id: unique per process, and says where to look for it."""
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:40] or "node"
    return f"{host}-{os.getpid()}"


class ClusterSettings(_Section):
    """Several server processes on one PostgreSQL database, joined by Redis."""

    redis_url: str = Field(
        default="",
        description="redis://host:port/db of the cluster's Redis; empty: one process, no cluster.",
    )
    node_id: str = Field(
        default_factory=default_node_id,
        pattern=_NAME,
        description="This node's name in the cluster, unique per process (host name and pid).",
    )
    prefix: str = Field(
        default="ocpp-core",
        pattern=_NAME,
        description="Start of every Redis key and channel, so clusters can share one Redis.",
    )

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        value = value.strip()
        if value and urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.redis_url)


class ServerSettings(_Section):
    """How a server process stops (``ocpp-core server``, each worker, ``serve``'s server)."""

    drain_seconds: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description=(
            "Seconds a SIGTERM'd server keeps serving while /health says 503 and new chargers "
            "are refused, so a load balancer takes it out first; 0: stop at once."
        ),
    )


class DiagnosticsSettings(_Section):
    """Where chargers upload their diagnostics and logs (GetDiagnostics, GetLog), and how much."""

    directory: Path = Field(
        default=Path("diagnostics"),
        description="Directory the uploaded files are kept in, one per request (shared by nodes).",
    )
    max_upload_bytes: int = Field(
        default=52_428_800, ge=1024, description="Bytes of one upload; more is a 413, kept nowhere."
    )
    upload_base_url: str = Field(
        default="",
        description="Base URL chargers reach this server at over HTTP; empty: http://host:port.",
    )
    # A log of tens of MB over a charger's mobile link takes minutes, not http.body_timeout.
    upload_timeout: float = Field(
        default=600.0, gt=0, le=86_400, description="Seconds a charger has to send one upload."
    )
    # A charger uploads when it has gathered its logs, and retries: hours, not seconds.
    upload_token_minutes: int = Field(
        default=1440, ge=1, le=43_200, description="Minutes an upload's URL stays valid."
    )

    @field_validator("upload_base_url")
    @classmethod
    def _upload_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and (
            urlsplit(value).scheme not in {"http", "https"} or not urlsplit(value).netloc
        ):
            raise ValueError("must start with http:// or https:// and name a host")
        return value


class Settings(BaseSettings):
    """Everything ocpp-core can be told; see the README for the table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    database_url: str = Field(
        default="sqlite:///ocpp-core.sqlite",
        description="sqlite:///path or postgresql://user@host/db; the async driver is chosen.",
    )
    migrate_on_start: bool = Field(default=True, description="Apply migrations at start-up.")
    database: DatabaseSettings = Field(
        default=DatabaseSettings(), description="Time limits of the database connections."
    )
    api_key: SecretStr = Field(
        default=SecretStr(""), description="Required X-API-Key for /API (16+ characters)."
    )
    host: str = Field(default="127.0.0.1", description="Listen address of the server.")
    port: int = Field(default=8081, ge=0, le=65_535, description="Listen port of the server.")
    workers: int | Literal["auto"] = Field(
        default=1,
        description="Server processes on the port; auto: one per core. Over 1 needs cluster.*.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Log level: debug, info, warning or error."
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8082",
        description="Base URL drivers reach the management app at; QR codes link under it.",
    )
    trusted_proxies: tuple[str, ...] = Field(
        default=(),
        description="Proxies (addresses or CIDR networks) whose X-Forwarded-For is believed.",
    )
    ocpp: OcppSettings = OcppSettings()
    tls: TlsSettings = TlsSettings()
    http: HttpSettings = HttpSettings()
    stripe: StripeSettings = StripeSettings()
    payments: PaymentSettings = PaymentSettings()
    management: ManagementSettings = Field(
        default=ManagementSettings(), description="The operator web app (management.*)."
    )
    cluster: ClusterSettings = Field(
        default_factory=ClusterSettings, description="Server nodes joined by Redis (cluster.*)."
    )
    server: ServerSettings = Field(
        default=ServerSettings(), description="How a server process stops (server.*)."
    )
    diagnostics: DiagnosticsSettings = Field(
        default=DiagnosticsSettings(),
        description="Diagnostics and log uploads from chargers (diagnostics.*).",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.split(":", 1)[0].split("+", 1)[0]
        if scheme not in {"sqlite", "postgresql", "postgres"}:
            raise ValueError("must start with sqlite:// or postgresql://")
        return value

    @model_validator(mode="after")
    def _cluster_on_postgresql(self) -> Settings:
        """Nodes share their state through the database: each SQLite file is a fleet of its own."""
        if self.cluster.enabled and not self.database_url.startswith("postgres"):
            raise _rule(
                f"{ENV_PREFIX}CLUSTER__REDIS_URL (cluster.redis_url) needs PostgreSQL: "
                f"set {ENV_PREFIX}DATABASE_URL (database_url) to postgresql://…, or leave "
                "the Redis URL empty to run one process on SQLite"
            )
        return self

    @field_validator("workers", mode="before")
    @classmethod
    def _workers(cls, value: Any) -> int | str:
        """One message for a wrong count, not one per member of the union."""
        if value == "auto":
            return "auto"
        try:
            count = int(value)
        except (TypeError, ValueError):
            count = 0
        if count < 1:
            raise ValueError("must be a number of processes (1 or more) or auto")
        return count

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_network(item) for item in value)

    @field_validator("public_base_url")
    @classmethod
    def _http_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("must start with http:// or https:// and name a host")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query (?) or fragment (#)")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_toml_file.get())
        return init_settings, env_settings, toml

    @property
    def worker_count(self) -> int:
        """How many server processes ``workers`` asks for, ``auto`` being the usable cores."""
        return len(os.sched_getaffinity(0)) if self.workers == "auto" else self.workers

    def require_cluster_for_workers(self) -> None:
        """Workers share chargers and commands only as nodes of a cluster."""
        count = self.worker_count
        if count == 1 or self.cluster.enabled:
            return
        missing = [f"{ENV_PREFIX}CLUSTER__REDIS_URL (cluster.redis_url) to redis://…"]
        if not self.database_url.startswith("postgres"):
            missing.insert(0, f"{ENV_PREFIX}DATABASE_URL (database_url) to postgresql://…")
        raise ConfigError(
            f"{count} workers ({ENV_PREFIX}WORKERS, workers, --workers) are nodes of a "
            f"cluster: set {' and '.join(missing)}; SQLite is served by one process"
        )

    @property
    def upload_base_url(self) -> str:
        """Where chargers send their uploads: the configured URL, else this server's address."""
        return self.diagnostics.upload_base_url or f"http://{self.host}:{self.port}"

    def require_api_key(self) -> None:
        """Refuse to serve the API without a real key (there is no safe default)."""
        if len(self.api_key.get_secret_value()) < MIN_API_KEY_LENGTH:
            raise ConfigError(
                f"{ENV_PREFIX}API_KEY (api_key): set an API key of at least "
                f"{MIN_API_KEY_LENGTH} characters, e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )


def _network(value: str) -> str:
    """``10.0.0.0/8`` or ``::1``, normalised; a host name or ``*`` is refused, not ignored."""
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


@contextmanager
def _reading(path: Path | None) -> Iterator[None]:
    token = _toml_file.set(path)
    try:
        yield
    finally:
        _toml_file.reset(token)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings, turning every validation problem into one clear message."""
    path = config_file or _config_file_from_env(os.environ)
    if path is not None and not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        with _reading(path):
            return Settings(**given)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
    except SettingsError as error:  # an env var meant as JSON (a list, a table) that isn't
        raise ConfigError(_describe_unparsable(error)) from None
    except ValueError as error:  # a TOML syntax error
        raise ConfigError(f"config file {path}: {error}") from None


def _config_file_from_env(environ: Mapping[str, str]) -> Path | None:
    value = environ.get(CONFIG_ENV_VAR)
    return Path(value) if value else None


def _describe(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        if problem["type"] == _RULE:
            lines.append(problem["msg"])
            continue
        path = [str(part) for part in problem["loc"]]
        # An item's index belongs in the TOML path but names no variable of its own.
        names = [str(part) for part in problem["loc"] if not isinstance(part, int)]
        env_var = ENV_PREFIX + "__".join(names).upper()
        lines.append(f"{env_var} ({'.'.join(path)}): {problem['msg']}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


_UNPARSABLE_FIELD = re.compile(r'field "(\w+)"')


def _describe_unparsable(error: SettingsError) -> str:
    match = _UNPARSABLE_FIELD.search(str(error))
    field = match.group(1) if match else "?"
    env_var = ENV_PREFIX + field.upper()
    return (
        f"invalid configuration:\n  {env_var} or {env_var}__* ({field}): not valid JSON; "
        'lists are written as JSON in environment variables, e.g. \'["a", "b"]\''
    )
