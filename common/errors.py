"""The few errors Gatehouse raises on purpose, and how they cross the wire.

Each error has a stable ``code``. ``HTTP_STATUS`` is the one table that turns
a code into an HTTP status; workers put the status in error replies only so
that a trace shows it, the gateway always answers from this table.
"""

from __future__ import annotations

from typing import Any, ClassVar


class GatehouseError(Exception):
    """Base of every error that is part of the contract."""

    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "Internal server error"

    def __init__(self, message: str | None = None, details: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        super().__init__(self.message)

    def to_wire(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "status": http_status(self.code),
            "details": self.details,
        }


class BadRequest(GatehouseError):
    code = "bad_request"
    default_message = "The request could not be read"


class ValidationFailed(GatehouseError):
    code = "validation_error"
    default_message = "Validation failed"


class Unauthorized(GatehouseError):
    code = "unauthorized"
    default_message = "Authentication required"


class InvalidCredentials(GatehouseError):
    code = "invalid_credentials"
    default_message = "Invalid credentials"


class InvalidToken(GatehouseError):
    code = "invalid_token"
    default_message = "Invalid or expired token"


class NotFound(GatehouseError):
    code = "not_found"
    default_message = "Not found"


class MethodNotAllowed(GatehouseError):
    code = "method_not_allowed"
    default_message = "Method not allowed"


class Conflict(GatehouseError):
    code = "conflict"
    default_message = "Conflict"


class PayloadTooLarge(GatehouseError):
    code = "payload_too_large"
    default_message = "Request body too large"


class RateLimited(GatehouseError):
    code = "rate_limited"
    default_message = "Too many requests"


class UnknownMethod(GatehouseError):
    code = "unknown_method"
    default_message = "Unknown RPC method"


class ServiceUnavailable(GatehouseError):
    code = "service_unavailable"
    default_message = "A dependency is unavailable"


class NoResponders(ServiceUnavailable):
    code = "no_responders"
    default_message = "No live instance of the service"


class Overloaded(ServiceUnavailable):
    code = "overloaded"
    default_message = "Too many requests in flight; retry shortly"


class DeadlineExceeded(GatehouseError):
    code = "deadline_exceeded"
    default_message = "The request did not complete in time"


class UnsupportedMediaType(GatehouseError):
    code = "unsupported_media_type"
    default_message = "Request body must be JSON (Content-Type: application/json)"


class HeaderFieldsTooLarge(GatehouseError):
    code = "request_header_fields_too_large"
    default_message = "Request headers too large"


class ClientClosed(GatehouseError):
    """The client went away before its answer: logged, never sent, not a server error."""

    code = "client_closed"
    default_message = "Client closed the request"


class InvalidResetToken(GatehouseError):
    """A password reset token that is unknown, expired, used or superseded."""

    code = "invalid_reset_token"
    default_message = "Invalid or expired password reset token"


class Forbidden(GatehouseError):
    """Authenticated, but not allowed: a missing role or permission."""

    code = "forbidden"
    default_message = "You are not allowed to do this"


class AccountDisabled(Forbidden):
    """An administrator disabled the account: no login, no refresh."""

    code = "account_disabled"
    default_message = "This account is disabled"


class EmailNotVerified(Forbidden):
    """REQUIRE_VERIFIED_EMAIL is on and the account's address is not confirmed yet."""

    code = "email_not_verified"
    default_message = "Confirm your email address before you log in"


class InvalidEmailToken(GatehouseError):
    """An email verification or change link that is unknown, expired, used or superseded."""

    code = "invalid_email_token"
    default_message = "Invalid or expired email link"


class InvalidPasskey(GatehouseError):
    """A passkey registration that cannot be accepted: its ceremony unknown, used or
    expired, or its attestation not verified (``details.reason`` says which)."""

    code = "invalid_passkey"
    default_message = "The passkey could not be registered"


class OAuthError(GatehouseError):
    """An OAuth 2.0 / OpenID Connect refusal: ``details`` holds RFC 6749's ``error``
    (invalid_request, invalid_client, invalid_grant, ...) and the HTTP ``status``
    it answers with; the /oauth routes render it in the RFC's shape, not ours."""

    code = "oauth_error"
    default_message = "The OAuth request was refused"

    @classmethod
    def of(cls, error: str, description: str, *, status: int = 400) -> OAuthError:
        return cls(description, {"error": error, "status": status})

    @property
    def error(self) -> str:
        error = self.details.get("error")
        return error if isinstance(error, str) else "invalid_request"

    @property
    def status(self) -> int:
        status = self.details.get("status")
        return status if status in (400, 401) else 400


class RemoteError(GatehouseError):
    """An error reply whose code this process does not know: a bug somewhere."""

    code = "internal_error"


HTTP_STATUS: dict[str, int] = {
    BadRequest.code: 400,
    ValidationFailed.code: 400,
    Unauthorized.code: 401,
    InvalidCredentials.code: 401,
    InvalidToken.code: 401,
    Forbidden.code: 403,
    AccountDisabled.code: 403,
    EmailNotVerified.code: 403,
    NotFound.code: 404,
    MethodNotAllowed.code: 405,
    Conflict.code: 409,
    PayloadTooLarge.code: 413,
    RateLimited.code: 429,
    UnknownMethod.code: 501,
    ServiceUnavailable.code: 503,
    NoResponders.code: 503,
    Overloaded.code: 503,
    DeadlineExceeded.code: 504,
    RemoteError.code: 500,
    UnsupportedMediaType.code: 415,
    HeaderFieldsTooLarge.code: 431,
    # nginx's status for it: no client ever sees it, the access log does.
    ClientClosed.code: 499,
    InvalidResetToken.code: 400,
    InvalidEmailToken.code: 400,
    InvalidPasskey.code: 400,
    # 400 or 401 as RFC 6749 says; the /oauth routes read the status from details.
    OAuthError.code: 400,
}

# Codes that tell the client to come back later; the gateway adds Retry-After.
RETRYABLE_CODES = frozenset({ServiceUnavailable.code, NoResponders.code, Overloaded.code})


def _known_errors() -> dict[str, type[GatehouseError]]:
    """Every error class by its code, found by walking the hierarchy, so that a
    new error needs only its class and its line in HTTP_STATUS."""
    found: dict[str, type[GatehouseError]] = {}
    pending = list(GatehouseError.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls is not RemoteError:
            found[cls.code] = cls
    return found


_BY_CODE = _known_errors()


def http_status(code: str) -> int:
    return HTTP_STATUS.get(code, 500)


def error_body(error: GatehouseError, request_id: str) -> dict[str, Any]:
    """The one shape every HTTP error has, on the gateway and on health ports."""
    return {
        "success": False,
        "error": {"code": error.code, "message": error.message, "details": error.details},
        "request_id": request_id,
    }


def from_wire(error: Any) -> GatehouseError:
    """Rebuild an error from a reply; anything unrecognised becomes RemoteError."""
    if not isinstance(error, dict):
        return RemoteError("Malformed error reply")
    code = error.get("code")
    message = error.get("message")
    details = error.get("details")
    cls = _BY_CODE.get(code) if isinstance(code, str) else None
    return (cls or RemoteError)(
        message if isinstance(message, str) else None,
        details if isinstance(details, dict) else None,
    )
