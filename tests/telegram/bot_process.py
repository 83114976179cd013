"""A real `counsel-bot run` as a child process against the fake Bot API, to kill and start
again (tests/telegram/test_sigkill.py, test_pg_instances.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.fake_bot_api.server import FakeBotApi


class BotProcess:
    def __init__(self, api: FakeBotApi, tmp_path: Path, framework: str, mode: str, *,
                 args: list[str] | None = None, env: dict[str, str] | None = None,
                 verbose: bool = False) -> None:
        self.api, self.tmp_path, self.framework, self.mode = api, tmp_path, framework, mode
        self.args, self.env = list(args or []), dict(env or {})
        self.verbose = verbose
        self.process: asyncio.subprocess.Process | None = None
        self.port = _free_port()
        self.logs: list[str] = []
        self.starts = 0

    async def start(self) -> None:
        env = {**os.environ, "COUNSEL_BOT_TOKEN": self.api.token,
               "COUNSEL_BOT_API_URL": self.api.root,
               "COUNSEL_BOT_DATA_DIR": str(self.tmp_path / "data"),
               "COUNSEL_BOT_KEY_FILE": str(self.tmp_path / "keys" / "key"), **self.env}
        args = ["--framework", self.framework, *self.args]
        if self.mode == "webhook":
            args += ["--webhook-url", "https://bot.example.org",
                     "--listen", f"127.0.0.1:{self.port}"]
        self.tmp_path.mkdir(parents=True, exist_ok=True)
        log_path = self.tmp_path / f"bot-{self.starts}.log"
        self.logs.append(str(log_path))
        self.starts += 1
        with open(log_path, "wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "counsel_bot.cli", *(["-v"] if self.verbose else []),
                "run", *args, env=env,
                stdout=log, stderr=log, start_new_session=True)

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)

    async def stop(self, how: signal.Signals = signal.SIGTERM, *, group: bool = False,
                   timeout: float = 30.0) -> int:
        """Signal the bot (or, like Ctrl-C in a terminal, its whole process group) and wait
        for it to end; killed if it has not ended by then."""
        assert self.process is not None
        if self.process.returncode is None:
            if group:
                os.killpg(self.process.pid, how)
            else:
                self.process.send_signal(how)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()
            raise AssertionError(f"the bot did not stop within {timeout}s:\n"
                                 f"{self.log_text()[-3000:]}") from None

    async def wait(self) -> int:
        assert self.process is not None
        return await self.process.wait()

    async def ready(self, timeout: float = 60.0) -> None:
        """Until this start's log says the bot is ready (so that kills hit it at work)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while "counsel-bot is ready" not in Path(self.logs[-1]).read_text(errors="replace"):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"the bot did not start:\n{self.log_text()[-3000:]}")
            await asyncio.sleep(0.02)

    def log_text(self) -> str:
        return "\n".join(Path(p).read_text(errors="replace") for p in self.logs)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])



def press_label(api: FakeBotApi, user: int, label: str, queue: bool,
                messages: list[dict] | None = None) -> dict:
    """Press the button labelled `label` on the latest message with buttons (of `messages`,
    the user's, if given)."""
    for message in reversed(api.messages_to(user) if messages is None else messages):
        rows = (message.get("reply_markup") or {}).get("inline_keyboard")
        if rows:
            data = {b["text"]: b["callback_data"] for row in rows for b in row}[label]
            return api.user_presses_button(user, data, message["message_id"], queue=queue)
    raise AssertionError(f"user {user}: no buttons to press {label!r}")


def in_order(wanted: list[str], got: list[str]) -> bool:
    """Whether `wanted` appears in `got` in order (what arrived twice set aside)."""
    position = iter(got)
    return all(any(text == candidate for candidate in position) for text in wanted)
