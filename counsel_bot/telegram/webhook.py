"""The webhook endpoint both frameworks share: secret checked first, in constant time.

A request with a missing or wrong `X-Telegram-Bot-Api-Secret-Token` is refused with 403
before its body is read. An update is journalled durably before the 200 goes back (see
intake.py). A body that is not an update gets 200 too, with one log line: Telegram would
otherwise send it again and again. `GET /healthz` answers for load balancers and monitors.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1 << 20


def new_secret_token() -> str:
    """Telegram allows 1-256 characters of A-Z, a-z, 0-9, _ and -."""
    return secrets.token_urlsafe(48)


class WebhookServer:
    def __init__(self, path: str, secret_token: str,
                 accept: Callable[[list[Any]], Awaitable[None]],
                 health: Callable[[], dict[str, Any]]) -> None:
        self.path = path
        self._secret = secret_token.encode("utf-8")
        self._accept = accept
        self._health = health
        self._runner: web.AppRunner | None = None
        self.app = web.Application(client_max_size=MAX_BODY)
        self.app.router.add_post(path, self._on_update)
        self.app.router.add_get("/healthz", self._on_health)

    async def _on_update(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8")
        if not hmac.compare_digest(given, self._secret):
            log.warning("webhook: refused a request with a missing or wrong secret token")
            raise web.HTTPForbidden()
        try:
            update = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("webhook: a body that is not JSON was ignored")
            return web.Response(text="ok")
        await self._accept([update])  # journalled before Telegram hears it arrived
        return web.Response(text="ok")

    async def _on_health(self, _request: web.Request) -> web.Response:
        """In a thread: on PostgreSQL the counts are queries, which must not hold up the
        updates this loop serves. A failing store answers 503, so that a load balancer
        sends the updates to another instance."""
        try:
            figures = await asyncio.to_thread(self._health)
        except Exception as exc:  # any failure makes the instance unhealthy
            log.error("health check failed: %s: %s", type(exc).__name__, str(exc)[:200])
            return web.json_response({"status": "unavailable"}, status=503)
        return web.json_response({"status": "ok", **figures})

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the port (useful with port 0)."""
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=10.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        return int(sockets[0].getsockname()[1]) if sockets else port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
