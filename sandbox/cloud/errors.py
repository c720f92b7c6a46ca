"""The one exception the API layer turns into ``{"error": ...}`` bodies."""
from __future__ import annotations

from typing import Any, Dict, Optional


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: Optional[Dict[str, str]] = None,
                 details: Any = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.details = details

    def body(self) -> Dict[str, Any]:
        body: Dict[str, Any] = {"error": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


def not_authenticated() -> ApiError:
    return ApiError(401, "Not authenticated", {"WWW-Authenticate": "Bearer"})
