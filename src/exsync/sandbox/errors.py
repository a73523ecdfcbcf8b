"""Graph's error answers: the status codes and `error.code` values Microsoft documents for each case."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


class GraphError(Exception):
    """An error answer: raised anywhere in a handler, turned into Graph's error body by the app."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self, client_request_id: str | None = None) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    # The docs' examples show no offset, but the schema types it Edm.DateTimeOffset.
                    "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "request-id": request_id,
                    "client-request-id": client_request_id or request_id,
                },
            }
        }


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def invalid_request(message: str) -> GraphError:
    return GraphError(400, "ErrorInvalidRequest", message)


def not_found(message: str = "The specified object was not found in the store.") -> GraphError:
    return GraphError(404, "ErrorItemNotFound", message)


def no_route(method: str, path: str) -> GraphError:
    return GraphError(400, "BadRequest", f"Resource not found for the segment '{path.rsplit('/', 1)[-1]}'.")


def access_denied() -> GraphError:
    return GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")


def conflict(message: str, code: str = "ErrorFolderExists") -> GraphError:
    return GraphError(409, code, message)


def change_key_mismatch() -> GraphError:
    return GraphError(
        412,
        "ErrorIrresolvableConflict",
        "The send or update operation could not be performed because the change key passed in the request "
        "does not match the current change key for the item.",
    )


def sync_state_not_found() -> GraphError:
    return GraphError(
        410,
        "syncStateNotFound",
        "The sync state generation is not found. Please restart the synchronization.",
    )


def throttled(retry_after: float, message: str) -> GraphError:
    return GraphError(429, "ApplicationThrottled", message, {"Retry-After": format_seconds(retry_after)})


def unavailable(retry_after: float | None = None) -> GraphError:
    headers = {"Retry-After": format_seconds(retry_after)} if retry_after is not None else None
    return GraphError(503, "ServiceUnavailable", "The service is temporarily unavailable.", headers)


def format_seconds(seconds: float) -> str:
    """Retry-After in whole seconds, as Graph sends it; a fraction only when time runs scaled."""
    if seconds >= 1 and float(seconds).is_integer():
        return str(int(seconds))
    return f"{max(seconds, 0.001):.3f}".rstrip("0").rstrip(".")


# The codes a fault armed through /_sandbox/faults answers with, by status.
FAULT_CODES = {
    400: ("BadRequest", "The request is malformed (an armed sandbox fault)."),
    401: ("InvalidAuthenticationToken", "Access token validation failure (an armed sandbox fault)."),
    403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
    409: ("ErrorIrresolvableConflict", "A conflict occurred (an armed sandbox fault)."),
    410: ("syncStateNotFound", "The sync state generation is not found. Please restart the synchronization."),
    412: ("ErrorIrresolvableConflict", "The change key does not match (an armed sandbox fault)."),
    429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
    500: ("ErrorInternalServerError", "An internal server error occurred (an armed sandbox fault)."),
    502: ("BadGateway", "Bad gateway (an armed sandbox fault)."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The gateway timed out (an armed sandbox fault)."),
}


def fault(status: int, retry_after: float | None) -> GraphError:
    code, message = FAULT_CODES.get(status, ("UnknownError", f"An armed sandbox fault ({status})."))
    headers = {"Retry-After": format_seconds(retry_after)} if retry_after is not None else None
    return GraphError(status, code, message, headers)
