"""Stripe's error envelope, so the SDK raises the same exception classes as in production."""

from __future__ import annotations

from typing import Any

JsonDict = dict[str, Any]


class StripeError(Exception):
    """An API failure rendered as ``{"error": {...}}`` with Stripe's HTTP status.

    ``replayable`` follows Stripe's idempotency rule: a request that failed
    validation never started executing, so its result is not stored under the
    idempotency key and a corrected retry with the same key may still succeed.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        replayable: bool = True,
        extra: JsonDict | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type_
        self.code = code
        self.param = param
        self.replayable = replayable
        self.extra = extra or {}

    def body(self) -> JsonDict:
        error: JsonDict = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        return {"error": error | self.extra}


def invalid_param(message: str, param: str, code: str | None = None) -> StripeError:
    return StripeError(message, param=param, code=code, replayable=False)


def unknown_param(param: str) -> StripeError:
    return invalid_param(f"Received unknown parameter: {param}", param, "parameter_unknown")


def missing_param(param: str) -> StripeError:
    return invalid_param(f"Missing required param: {param}.", param, "parameter_missing")


def no_such(kind: str, object_id: str, param: str) -> StripeError:
    return StripeError(
        f"No such {kind}: '{object_id}'", status=404, code="resource_missing", param=param
    )


def api_error(message: str) -> StripeError:
    return StripeError(message, status=500, type_="api_error", replayable=False)
