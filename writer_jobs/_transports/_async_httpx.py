"""The async httpx backend: an ``httpx.AsyncClient``, bounded by ``asyncio.timeout``."""

from __future__ import annotations

import httpx

from .._config import ClientConfig
from .._engine import Send
from .._exceptions import APIError
from ._attempt import BodyReader, attempt_deadline, build_request, within


class AsyncHttpx:
    """Sends through an httpx.AsyncClient: this client's own, or the user's."""

    def __init__(self, config: ClientConfig, http: httpx.AsyncClient, *, owned: bool) -> None:
        self.config = config
        self.http = http
        self.owned = owned

    async def send(self, action: Send) -> httpx.Response | Exception:
        seconds, deadline = attempt_deadline(self.config, action)
        return await within(seconds, self._exchange(action, deadline))

    async def _exchange(self, action: Send, deadline: float | None) -> httpx.Response | Exception:
        request = build_request(self.http, self.config, action)
        try:
            response = await self.http.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            return exc
        try:
            body = BodyReader(self.config, action, response.status_code, deadline)
            async for chunk in response.aiter_bytes():
                body.add(chunk)
            response._content = body.body()  # as httpx's own aread() does
            return response
        except (httpx.HTTPError, APIError) as exc:
            return exc
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        if self.owned:
            await self.http.aclose()
