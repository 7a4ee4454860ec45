"""The charge point form of ``/Home/ChargePoint``: the fields as typed, and their checks.

A refused form comes back as the operator left it, each problem next to its
field. The checks are the domain's own (``NewChargePoint``, the charger password
rule, the tariff's parsing); this module only maps their messages, which name
the CLI's options, to the page's fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from ocpp_core.db.models import ChargePoint
from ocpp_core.domain import tariffs
from ocpp_core.domain.chargepoints import (
    MAX_LOCATION_LENGTH,
    NewChargePoint,
    display_code_problem,
)
from ocpp_core.domain.pricing import (
    MILLICENTS_PER_UNIT,
    WH_PER_KWH,
    Tariff,
    TariffError,
    parse_money,
)
from ocpp_core.management.admin_forms import checked, decimal_text, text
from ocpp_core.management.i18n import N_, gettext
from ocpp_core.security import charger_password_problem

_HEX = re.compile(r"[0-9a-f]+")
_ID_PREFIX = re.compile(r"^(?:id|charge point) '[^']*': ")
# The domain's messages name CLI options; the page names its fields.
_OPTIONS = {
    "--per-kwh": ("per_kwh", N_("Price per kWh")),
    "--session-fee": ("session_fee", N_("Session fee")),
    "--usage-fee-per-minute": ("usage_fee", N_("Usage fee per minute")),
    "--usage-grace-minutes": ("usage_grace", N_("Grace minutes")),
    "--usage-max-minutes": ("usage_max", N_("Most billed minutes")),
    "--max-kwh": ("max_kwh", N_("Max kWh per session")),
    "--currency": ("currency", N_("Currency")),
    "--free": ("free", N_("Free charging")),
}
TARIFF_ERROR = "tariff"  # a problem of the tariff as a whole (e.g. the hold)
# Problems the template words itself (so they are translated); the field's error is the key.
CODE_FORMAT, CODE_TAKEN, LOCATION_TOO_LONG = "code-format", "code-taken", "location-too-long"
NO_PASSWORD_UNCHOSEN, PASSWORD_AND_NONE = "no-password-unchosen", "password-and-none"


@dataclass
class ChargePointForm:
    """The form as typed, so a refused form comes back as the operator left it."""

    id: str = ""
    name: str = ""
    comment: str = ""
    display_code: str = ""
    location: str = ""
    password: str = ""
    no_password: bool = False
    remove_password: bool = False
    thumbprint: str = ""
    per_kwh: str = ""
    session_fee: str = ""
    usage_fee: str = ""
    usage_grace: str = ""
    usage_max: str = ""
    usage_after: bool = False
    max_kwh: str = ""
    currency: str = ""
    free: bool = False
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    async def read(cls, request: Request) -> ChargePointForm:
        form = await request.form()
        return cls(
            id=text(form, "id"),
            name=text(form, "name"),
            comment=text(form, "comment"),
            display_code=text(form, "display_code"),
            location=text(form, "location"),
            password=_raw(form.get("password")),
            no_password=checked(form, "no_password"),
            remove_password=checked(form, "remove_password"),
            thumbprint=text(form, "thumbprint"),
            per_kwh=text(form, "per_kwh"),
            session_fee=text(form, "session_fee"),
            usage_fee=text(form, "usage_fee"),
            usage_grace=text(form, "usage_grace"),
            usage_max=text(form, "usage_max"),
            usage_after=checked(form, "usage_after"),
            max_kwh=text(form, "max_kwh"),
            currency=text(form, "currency").lower(),
            free=checked(form, "free"),
        )

    @classmethod
    def of(cls, row: ChargePoint, default_currency: str) -> ChargePointForm:
        tariff = tariffs.tariff_of(row, default_currency)
        return cls(
            id=row.id,
            name=row.name or "",
            comment=row.comment or "",
            display_code=row.display_code or "",
            location=row.location or "",
            thumbprint=row.client_cert_thumbprint or "",
            per_kwh=decimal_text(tariff.price_kwh_millicents, MILLICENTS_PER_UNIT, min_places=2),
            session_fee=decimal_text(tariff.session_fee_cents, 100, min_places=2),
            usage_fee=decimal_text(
                tariff.usage_fee_minute_millicents, MILLICENTS_PER_UNIT, min_places=2
            ),
            usage_grace=str(tariff.usage_grace_minutes or ""),
            usage_max=str(tariff.usage_max_minutes or ""),
            usage_after=tariff.usage_after_charging,
            max_kwh=decimal_text(tariff.max_energy_wh, WH_PER_KWH),
            currency=tariff.currency,
            free=tariff.free,
        )

    def check_fields(self, *, new: bool) -> None:
        """The per-field rules, before anything is stored."""
        if new:
            problem = NewChargePoint(self.id).problem()
            if problem:
                self.errors["id"] = without_prefix(problem)
        for name, candidate in (
            ("name", NewChargePoint("x", name=self.name or None)),
            ("comment", NewChargePoint("x", comment=self.comment or None)),
        ):
            problem = candidate.problem()
            if problem:
                self.errors[name] = without_prefix(problem)
        if display_code_problem(self.display_code or None):
            self.errors["display_code"] = CODE_FORMAT
        if len(self.location) > MAX_LOCATION_LENGTH:
            self.errors["location"] = LOCATION_TOO_LONG
        if self.password:
            problem = charger_password_problem(self.password)
            if problem:
                self.errors["password"] = problem[:1].upper() + problem[1:]
        if self.thumbprint and self.normalized_thumbprint() is None:
            self.errors["thumbprint"] = gettext(
                "Use the certificate's SHA-256 (64 hex digits) or SHA-1 (40) fingerprint."
            )
        if new:
            self._check_password_choice()

    def _check_password_choice(self) -> None:
        if self.password and self.no_password:
            self.errors.setdefault("password", PASSWORD_AND_NONE)
        elif self.as_new().open_by_accident and "thumbprint" not in self.errors:
            self.errors["password"] = NO_PASSWORD_UNCHOSEN

    def as_new(self) -> NewChargePoint:
        return NewChargePoint(
            self.id,
            self.name or None,
            self.password or None,
            self.comment or None,
            display_code=self.display_code or None,
            location=self.location or None,
            thumbprint=self.normalized_thumbprint(),
            no_password=self.no_password,
        )

    def normalized_thumbprint(self) -> str | None:
        digits = "".join(c for c in self.thumbprint.lower() if c not in ": -")
        if len(digits) in (40, 64) and _HEX.fullmatch(digits):
            return digits
        return None

    def tariff(self, default_currency: str) -> Tariff | None:
        """The tariff typed in, or None with the problems noted on their fields."""
        values: dict[str, Any] = {}
        for name, key, scale in (
            ("per_kwh", "price_kwh_millicents", MILLICENTS_PER_UNIT),
            ("session_fee", "session_fee_cents", 100),
            ("usage_fee", "usage_fee_minute_millicents", MILLICENTS_PER_UNIT),
            ("max_kwh", "max_energy_wh", WH_PER_KWH),
        ):
            raw = getattr(self, name)
            try:
                values[key] = parse_money(raw, scale=scale, name=_label(name)) if raw else 0
            except TariffError as error:
                self.errors[name] = str(error)
        for name, key in (
            ("usage_grace", "usage_grace_minutes"),
            ("usage_max", "usage_max_minutes"),
        ):
            raw = getattr(self, name)
            if not raw:
                values[key] = 0
            elif raw.isdigit() and len(raw) <= 9:
                values[key] = int(raw)
            else:
                self.errors[name] = gettext(
                    "%(field)s: a whole number of minutes, 0 or more.", field=_label(name)
                )
        if any(name in self.errors for name in _TARIFF_FIELDS):
            return None
        return Tariff(
            **values,
            usage_after_charging=self.usage_after,
            currency=self.currency or default_currency,
            free=self.free,
        )

    def note_tariff_error(self, error: TariffError) -> None:
        message = without_prefix(str(error))
        field_name = TARIFF_ERROR
        first = len(message)
        for option, (name, _label) in _OPTIONS.items():
            at = message.find(option)
            if at != -1 and at < first:
                first, field_name = at, name
        for option in sorted(_OPTIONS, key=len, reverse=True):
            message = message.replace(option, f"“{gettext(_OPTIONS[option][1])}”")
        self.errors[field_name] = message[:1].upper() + message[1:]


def _raw(value: object) -> str:
    """A password is taken as typed: spaces at either end are part of it."""
    return value if isinstance(value, str) else ""


_TARIFF_FIELDS = ("per_kwh", "session_fee", "usage_fee", "usage_grace", "usage_max", "max_kwh")


def _label(name: str) -> str:
    return gettext(next(label for field_name, label in _OPTIONS.values() if field_name == name))


def without_prefix(message: str) -> str:
    message = _ID_PREFIX.sub("", message)
    return message[:1].upper() + message[1:]
