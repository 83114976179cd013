"""Length-prefixed frames between the bot and its step processes, the same on both ends.

A frame is a 4-byte big-endian length and a pickle of one Python object (a StepRequest, a
StepOutcome, or None to stop). Both ends are this project's own processes built from the
same code, so pickle's trust model holds: nothing here ever reads from a network.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
from typing import Any

_LENGTH = struct.Struct("!I")
MAX_FRAME = 1 << 30


def encode(obj: Any) -> bytes:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    if len(payload) > MAX_FRAME:
        raise ValueError(f"a frame of {len(payload)} bytes is too large")
    return _LENGTH.pack(len(payload)) + payload


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("the other end closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read(sock: socket.socket) -> Any:
    """One frame from a blocking socket; EOFError when the other end has gone."""
    (size,) = _LENGTH.unpack(_exactly(sock, _LENGTH.size))
    return pickle.loads(_exactly(sock, size))


def write(sock: socket.socket, obj: Any) -> None:
    sock.sendall(encode(obj))


async def read_async(reader: asyncio.StreamReader) -> Any:
    """One frame from an asyncio stream; IncompleteReadError when the other end has gone."""
    (size,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    return pickle.loads(await reader.readexactly(size))
