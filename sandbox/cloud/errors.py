"""The refusal the cloud answers an operation with: an HTTP status and the message of the
real server's ``{"error": ...}`` body. The HTTP layer turns it into that answer."""
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
