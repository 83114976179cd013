"""`GET /healthz`: the figures are read off the event loop, and a failing store answers 503
(with a log line), so that a load balancer sends the updates elsewhere."""

from __future__ import annotations

import logging
import threading
from typing import Any

import aiohttp

from counsel_bot.telegram.webhook import WebhookServer


async def _accept(_updates: list[Any]) -> None:
    return None


async def _get_health(server: WebhookServer) -> tuple[int, dict[str, Any]]:
    port = await server.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http, \
                http.get(f"http://127.0.0.1:{port}/healthz") as response:
            return response.status, await response.json()
    finally:
        await server.stop()


async def test_health_figures_are_read_in_another_thread_than_the_event_loop():
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def health() -> dict[str, Any]:
        seen.append(threading.get_ident())
        return {"outbox_pending": 3}

    status, body = await _get_health(WebhookServer("/hook", "s" * 20, _accept, health))
    assert (status, body) == (200, {"status": "ok", "outbox_pending": 3})
    assert seen and seen[0] != loop_thread


async def test_a_failing_store_makes_health_answer_503_and_says_so_in_the_log(caplog):
    def health() -> dict[str, Any]:
        raise ConnectionError("database unreachable")

    with caplog.at_level(logging.ERROR):
        status, body = await _get_health(WebhookServer("/hook", "s" * 20, _accept, health))
    assert (status, body) == (503, {"status": "unavailable"})
    assert any("health check failed: ConnectionError" in r.getMessage() for r in caplog.records)

