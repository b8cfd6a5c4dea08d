"""Discord's JSON error responses, raised inside route handlers and rendered by the REST layer."""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    """An error Discord would answer with: HTTP status, JSON error code, message, optional field errors."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def field_error(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def invalid_form(errors: dict[str, Any]) -> APIError:
    return APIError(400, 50035, "Invalid Form Body", errors)


def not_found(what: str, code: int) -> APIError:
    return APIError(404, code, f"Unknown {what}")


def unknown_channel() -> APIError:
    return not_found("Channel", 10003)


def unknown_message() -> APIError:
    return not_found("Message", 10008)


def unknown_webhook() -> APIError:
    return not_found("Webhook", 10015)


def missing_permissions() -> APIError:
    return APIError(403, 50013, "Missing Permissions")


def missing_access() -> APIError:
    return APIError(403, 50001, "Missing Access")


class FakeUsageError(AssertionError):
    """A test asked the fake for something a real Discord user could not do (unknown command, etc.)."""
