"""Returnees' updates stepped in worker processes, beside the event loop's process.

Why: the engine step and its store transaction (decrypt, step, encrypt, write, fsync) cost
about as much CPU as the framework's whole handling of an update. In the bot's own process
they share one GIL with the event loop, and a worker thread holding the GIL stalls the loop's
every socket call (the convoy effect), so the bot ran at under half of its framework's echo
rate. In a worker process they run on another core and the loop only does network I/O.

Each worker builds the same `App` from the same settings and runs the very same
`TelegramGateway.step` on it, with an outbox stand-in that records what the step would queue
and an `after_step` hook that records what the runtime must do next. The parent replays both
on its own outbox and hooks, so nothing about a returnee is decided twice or differently.
The store is built for several processes (one flock per shard), and the parent's own work on
the same shards (scheduled deliveries, the desk, the command line) keeps working beside it.

Updates go to the worker chosen by the chat, so one chat's updates keep their order; the
gateway's per-chat lock keeps at most one of them in flight. A worker that dies fails the
updates it held (they are logged, like any failed update) and is started again.

Workers read the wall clock: a test that moves time by hand steps in the bot's own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import struct
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from counsel_bot.config.settings import Settings
from counsel_bot.engine.effects import Priority
from counsel_bot.runtime.transport import OutMessage

log = logging.getLogger(__name__)

_HEADER = struct.Struct("!i")  # multiprocessing.connection's frame: big-endian length
_LONG = struct.Struct("!Q")  # ... or -1 and an 8-byte length for frames over 2 GiB


@dataclass(frozen=True)
class Delivery:
    """An event for a returnee's chat from the runtime (a session notice, a check-in)."""

    chat: str
    inbound: Any
    key: str | None = None


class StepFailed(Exception):
    """The worker could not step the update (it logged why, without the person's words)."""


@dataclass
class StepResult:
    """What one step asked of the runtime: messages to queue, effects to act on."""

    enqueued: list[tuple[str, list[OutMessage], Priority, str | None]] = field(
        default_factory=list)
    after_step: list[tuple[str, str | None, list[Any]]] = field(default_factory=list)
    error: str | None = None


class _RecordingOutbox:
    """The worker's outbox: keeps what the step queues, for the parent to queue for real."""

    def __init__(self) -> None:
        self.result = StepResult()

    def enqueue(self, chat: str, messages: Iterable[OutMessage],
                priority: Priority = Priority.REPLY, key: str | None = None) -> list[int]:
        self.result.enqueued.append((chat, list(messages), priority, key))
        return []


def _worker_main(conn: Any, settings: Settings, log_level: int) -> None:
    """A worker process: build the app, then step updates until told to stop.

    Ctrl-C and SIGTERM reach the whole process group; the worker leaves them to the bot,
    which lets it finish what it holds and then tells it to stop (or closes the pipe).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from counsel_bot.bootstrap import build_app
    from counsel_bot.logging_setup import configure_logging
    from counsel_bot.telegram.gateway import TelegramGateway

    configure_logging()
    logging.getLogger().setLevel(log_level)
    app = build_app(settings)
    outbox = _RecordingOutbox()
    gateway = TelegramGateway(app.conversations, outbox, transport=None)  # type: ignore[arg-type]
    gateway.after_step.append(
        lambda chat, case_id, others: outbox.result.after_step.append((chat, case_id, others)))
    conn.send("ready")
    try:
        while True:
            try:
                update = conn.recv()
            except EOFError:
                return
            if update is None:
                return
            outbox.result = StepResult()
            try:
                if isinstance(update, Delivery):
                    gateway.step(update.chat, lambda _db, d=update: d.inbound, update.key)
                else:
                    gateway._step(update)
            except Exception as exc:  # logged here with its trace; the parent logs the update
                log.exception("a step could not be done (%s)", type(update).__name__)
                outbox.result = StepResult(error=type(exc).__name__)
            conn.send(outbox.result)
    finally:
        app.close()


class _Worker:
    def __init__(self, number: int) -> None:
        self.number = number
        self.process: Any = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.waiting: deque[asyncio.Future[StepResult]] = deque()
        self.reading: asyncio.Task[None] | None = None


class StepProcesses:
    """A fixed set of worker processes that step returnees' updates (see module docstring)."""

    def __init__(self, settings: Settings, count: int) -> None:
        if count < 1:
            raise ValueError("at least one step process")
        self.settings = settings
        self._workers = [_Worker(n) for n in range(count)]
        self._stopping = False

    @property
    def count(self) -> int:
        return len(self._workers)

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn(w) for w in self._workers))
        log.info("%d step process(es) ready", len(self._workers))

    async def _spawn(self, worker: _Worker) -> None:
        ctx = multiprocessing.get_context("spawn")  # no inherited locks, threads or loop
        ours, theirs = ctx.Pipe(duplex=True)  # a socketpair on POSIX
        worker.process = ctx.Process(
            target=_worker_main, args=(theirs, self.settings, logging.getLogger().level),
            name=f"counsel-bot-step-{worker.number}", daemon=True)
        worker.process.start()
        theirs.close()
        sock = socket.socket(fileno=os.dup(ours.fileno()))
        ours.close()
        worker.reader, worker.writer = await asyncio.open_connection(sock=sock)
        ready = await _read_frame(worker.reader)
        if ready != "ready":
            raise RuntimeError(f"step process {worker.number} did not start")
        worker.reading = asyncio.create_task(self._read_results(worker))

    async def step(self, chat_id: int, update: Any) -> StepResult:
        """Step an IncomingUpdate or a Delivery in its chat's worker; raises StepFailed."""
        worker = self._workers[chat_id % len(self._workers)]
        if worker.writer is None or worker.writer.is_closing():
            raise StepFailed("step process unavailable")
        future: asyncio.Future[StepResult] = asyncio.get_running_loop().create_future()
        worker.waiting.append(future)
        worker.writer.write(_frame(update))
        result = await future
        if result.error is not None:
            raise StepFailed(result.error)
        return result

    async def _read_results(self, worker: _Worker) -> None:
        assert worker.reader is not None
        try:
            while True:
                result = await _read_frame(worker.reader)
                future = worker.waiting.popleft()
                if not future.done():
                    future.set_result(result)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        self._fail_waiting(worker)
        if not self._stopping:
            code = worker.process.exitcode if worker.process else None
            log.error("step process %d ended (exit code %s); starting it again",
                      worker.number, code)
            await self._restart(worker)

    async def _restart(self, worker: _Worker) -> None:
        if worker.writer is not None:
            worker.writer.close()
        await asyncio.get_running_loop().run_in_executor(None, worker.process.join, 5)
        try:
            await self._spawn(worker)
        except Exception:
            log.exception("step process %d could not be started again", worker.number)

    def _fail_waiting(self, worker: _Worker) -> None:
        while worker.waiting:
            future = worker.waiting.popleft()
            if not future.done():
                future.set_exception(StepFailed("step process ended"))

    async def stop(self) -> None:
        """Let each worker finish what it holds, then end it."""
        self._stopping = True
        for worker in self._workers:
            if worker.writer is not None and not worker.writer.is_closing():
                worker.writer.write(_frame(None))
        loop = asyncio.get_running_loop()
        for worker in self._workers:
            if worker.reading is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await worker.reading
            if worker.process is not None:
                await loop.run_in_executor(None, worker.process.join, 10)
                if worker.process.is_alive():
                    log.error("step process %d did not stop; killing it", worker.number)
                    worker.process.kill()
            if worker.writer is not None:
                worker.writer.close()


def _frame(obj: Any) -> bytes:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    if len(payload) > 0x7FFFFFFF:
        return _HEADER.pack(-1) + _LONG.pack(len(payload)) + payload
    return _HEADER.pack(len(payload)) + payload


async def _read_frame(reader: asyncio.StreamReader) -> Any:
    (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    if size == -1:
        (size,) = _LONG.unpack(await reader.readexactly(_LONG.size))
    return pickle.loads(await reader.readexactly(size))
