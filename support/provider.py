"""The provider's own listing of instances (VAST.ai, with VAST_API_KEY): a second witness.

The Dumont server can answer 404 for a live machine when the provider errs;
the provider's listing cannot. It is read, never written: the suite deletes
only through Dumont.
"""

from __future__ import annotations

import requests

from support.errors import ApiError, ConnectionProblem
from support.resources import INSTANCE, Live

DEFAULT_URL = "https://console.vast.ai/api/v0"


class ProviderListing:
    def __init__(self, api_key: str, url: str = DEFAULT_URL, timeout: float = 20.0):
        self._api_key = api_key
        self.url = url.rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ProviderListing({self.url!r})"

    def live(self) -> list[Live]:
        """Every instance the provider bills this key for, with its label."""
        path = "/instances/"
        try:
            response = requests.get(self.url + path, headers={"Authorization": f"Bearer {self._api_key}"},
                                    timeout=self.timeout)
        except requests.RequestException as error:
            raise ConnectionProblem("GET", f"provider {self.url}{path}", type(error).__name__) from None
        if response.status_code != 200:
            raise ApiError("GET", f"provider {self.url}{path}", response.status_code,
                           (response.text or "").strip()[:200])
        try:
            instances = response.json().get("instances") or []
        except (ValueError, AttributeError):
            raise ApiError("GET", f"provider {self.url}{path}", response.status_code,
                           "answer is not a JSON object with 'instances'") from None
        return [Live(INSTANCE, str(i.get("id")), (str(i.get("label") or ""),)) for i in instances]

    def holds(self, instance_id: str) -> bool:
        return any(live.id == instance_id for live in self.live())
