"""Chats stepped in worker processes, beside the event loop's process.

Why: the engine step and its store transaction (decrypt, step, encrypt, write, fsync) cost
about as much CPU as the framework's whole handling of an update. In the bot's own process
they share one GIL with the event loop, and a worker thread holding the GIL stalls the loop's
every socket call (the convoy effect), so the bot ran at under half of its framework's echo
rate. In a worker process they run on another core and the loop only does network I/O.

Each worker builds the same parts from the same settings (through the factory the
composition root passes in) and runs the very same `run_step` as a thread would; the parent
queues the outcome's messages and runs the after phase. Nothing about a returnee is decided
in two places. The two ends talk in length-prefixed frames (frames.py) over a socket pair.

The parent holds each chat's turn while its step is out (TelegramChats.locked), so a chat
never has two steps in flight; requests go to the worker chosen by the chat all the same,
which keeps a chat's shard warm in one process. A worker that dies is started again, and
the steps it held, or that came while it was starting, wait for it and are sent to the new
one: the update was already marked received, so failing the step would lose what the person
sent. Sending a step again repeats nothing: a step is kept under its key in the same
transaction as its outcome, so one that was done before the worker died is answered from
what was kept, and the outbox queues each of its messages once. A step that the new worker
loses too (it may be what kills them) fails and is logged.

Workers read the wall clock: a test that moves time by hand steps in the bot's own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import signal
import socket
from collections import deque
from collections.abc import Callable
from typing import Any

from counsel_bot.config.settings import Settings
from counsel_bot.runtime.conversations import ConversationService
from counsel_bot.telegram import frames
from counsel_bot.telegram.chats import OutcomeCodec, StepOutcome, StepRequest, run_step
from counsel_bot.telegram.updates import chat_id_of

log = logging.getLogger(__name__)

# Builds what a worker steps with: the conversations, the outcome codec, and a close.
WorkerParts = Callable[[Settings], tuple[ConversationService, OutcomeCodec, Callable[[], None]]]


READY_TIMEOUT = 120.0
"""How long a step waits for its worker to be (re)started before it fails."""
TRIES = 2
"""How many workers a step may be sent to: the one that held it and one started after it."""
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Waits between attempts to start a worker again (the last one repeats until it starts)."""


class StepFailed(Exception):
    """The worker could not step the request (it logged why, without the person's words)."""


class WorkerEnded(StepFailed):
    """The worker ended while it held the request, or was not running when it came."""


def _worker_main(sock: socket.socket, settings: Settings, parts: WorkerParts,
                 log_level: int) -> None:
    """A worker process: build the parts, then step requests until told to stop.

    Ctrl-C and SIGTERM reach the whole process group; the worker leaves them to the bot,
    which lets it finish what it holds and then tells it to stop (or closes the socket).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from counsel_bot.logging_setup import configure_logging

    configure_logging()
    logging.getLogger().setLevel(log_level)
    conversations, codec, close = parts(settings)
    frames.write(sock, "ready")
    try:
        while True:
            try:
                request = frames.read(sock)
            except EOFError:
                return
            if request is None:
                return
            try:
                result: StepOutcome | str = run_step(conversations, request, codec)
            except Exception as exc:  # logged here with its trace; the parent logs the step
                log.exception("a step could not be done in a step process")
                result = type(exc).__name__
            frames.write(sock, result)
    finally:
        close()
        sock.close()


class _Worker:
    def __init__(self, number: int) -> None:
        self.number = number
        self.process: Any = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.reading: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()  # started and reading results; cleared when it ends


class StepProcesses:
    """A fixed set of worker processes that step chats (see the module docstring)."""

    def __init__(self, settings: Settings, count: int, parts: WorkerParts) -> None:
        if count < 1:
            raise ValueError("at least one step process")
        self.settings = settings
        self.parts = parts
        self._workers = [_Worker(n) for n in range(count)]
        self._stopping = False
        self._stopped = asyncio.Event()

    @property
    def count(self) -> int:
        return len(self._workers)

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn(w) for w in self._workers))
        log.info("%d step process(es) ready", len(self._workers))

    async def _spawn(self, worker: _Worker) -> None:
        ctx = multiprocessing.get_context("spawn")  # no inherited locks, threads or loop
        ours, theirs = socket.socketpair()
        worker.process = ctx.Process(
            target=_worker_main,
            args=(theirs, self.settings, self.parts, logging.getLogger().level),
            name=f"counsel-bot-step-{worker.number}", daemon=True)
        worker.process.start()
        theirs.close()
        worker.reader, worker.writer = await asyncio.open_connection(sock=ours)
        ready = await frames.read_async(worker.reader)
        if ready != "ready":
            raise RuntimeError(f"step process {worker.number} did not start")
        worker.reading = asyncio.create_task(self._read_results(worker))
        worker.ready.set()

    async def __call__(self, request: StepRequest) -> StepOutcome:
        """Step a request in its chat's worker, on the next one if that one ends (see the
        module docstring); raises StepFailed."""
        worker = self._workers[chat_id_of(request.chat) % len(self._workers)]
        tries = 1
        while True:
            try:
                result = await self._send(worker, request)
                break
            except WorkerEnded:
                if tries == TRIES or self._stopping:
                    raise
                tries += 1
                log.warning("step process %d ended while it held a step; the step is sent "
                            "to the one started after it", worker.number)
        if isinstance(result, str):
            raise StepFailed(result)
        return result  # type: ignore[no-any-return]

    async def _send(self, worker: _Worker, request: StepRequest) -> Any:
        await self._until_running(worker)
        assert worker.writer is not None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        worker.waiting.append(future)
        worker.writer.write(frames.encode(request))
        return await future

    async def _until_running(self, worker: _Worker) -> None:
        """Until the worker is started and reading (it may be starting again)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT
        while not (worker.ready.is_set() and worker.writer is not None
                   and not worker.writer.is_closing()):
            if self._stopping:
                raise WorkerEnded("the step processes are stopping")
            if loop.time() > deadline:
                raise StepFailed(f"step process {worker.number} is not running")
            if worker.ready.is_set():  # its end is not noticed yet
                await asyncio.sleep(0.05)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.ready.wait(), 1.0)  # and look at stopping

    async def _read_results(self, worker: _Worker) -> None:
        assert worker.reader is not None
        try:
            while True:
                result = await frames.read_async(worker.reader)
                future = worker.waiting.popleft()
                if not future.done():
                    future.set_result(result)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        worker.ready.clear()
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
        for attempt in itertools.count():
            if self._stopping:
                return
            try:
                await self._spawn(worker)
                return
            except Exception:
                delay = RESTART_DELAYS[min(attempt, len(RESTART_DELAYS) - 1)]
                log.exception("step process %d could not be started again; trying again in "
                              "%.0f s", worker.number, delay)
                if worker.writer is not None:
                    worker.writer.close()
                if worker.process is not None and worker.process.is_alive():
                    worker.process.kill()
                with contextlib.suppress(TimeoutError):  # a stop ends the wait
                    await asyncio.wait_for(self._stopped.wait(), delay)

    def _fail_waiting(self, worker: _Worker) -> None:
        while worker.waiting:
            future = worker.waiting.popleft()
            if not future.done():
                future.set_exception(WorkerEnded("step process ended"))

    async def stop(self) -> None:
        """Let each worker finish what it holds, then end it."""
        self._stopping = True
        self._stopped.set()
        for worker in self._workers:
            if worker.writer is not None and not worker.writer.is_closing():
                worker.writer.write(frames.encode(None))
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
