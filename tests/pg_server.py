"""A real PostgreSQL server for the tests, and a fresh database for each test.

- ``COUNSEL_TEST_PG_URL`` set (CI, or a developer's own server): that server is used; its
  role must be allowed to CREATE DATABASE.
- Unset: a throwaway cluster is made with Debian's ``initdb`` + ``pg_ctl`` in a temp folder,
  listening on 127.0.0.1 on a free port (with fsync off: it is thrown away), once per test
  process (per xdist worker), and stopped at the end. PostgreSQL refuses to run as root, so
  as root the cluster runs as the ``postgres`` user (``runuser``), which Debian's package creates.
- Neither possible (no binaries): the PostgreSQL tests are skipped, saying why; with
  ``COUNSEL_TEST_REQUIRE_PG=1`` (CI) they fail instead.

Each test gets its own database (``CREATE DATABASE``), dropped afterwards.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV_URL = "COUNSEL_TEST_PG_URL"
ENV_BIN = "COUNSEL_TEST_PG_BIN"  # a folder with initdb and pg_ctl, if not Debian's
ENV_REQUIRE = "COUNSEL_TEST_REQUIRE_PG"  # set in CI: no server is a failure, not a skip


def _unavailable(reason: str) -> None:
    if os.environ.get(ENV_REQUIRE):
        pytest.fail(f"{reason} (and {ENV_REQUIRE} is set)", pytrace=False)
    pytest.skip(reason)


def find_bin_dir() -> Path | None:
    """The folder of initdb/pg_ctl: $COUNSEL_TEST_PG_BIN, Debian's newest, or on PATH."""
    if os.environ.get(ENV_BIN):
        return Path(os.environ[ENV_BIN])
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                    key=lambda p: int(Path(p).parent.parent.name))
    if debian:
        return Path(debian[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayCluster:
    """initdb + pg_ctl in a temp folder; `url` is the superuser's URL on 127.0.0.1."""

    def __init__(self, bin_dir: Path, *, durable: bool = False) -> None:
        self.bin = bin_dir
        self.durable = durable  # fsync on (benchmarks); the tests run with it off
        self.root = Path(tempfile.mkdtemp(prefix="counsel-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no 'postgres' user to run "
                                   "the test cluster as") from None
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> str:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
        for _ in range(5):  # the port may be taken between choosing and binding it
            self.port = _free_port()
            speed = ("" if self.durable else
                     "-c fsync=off -c synchronous_commit=off -c full_page_writes=off ")
            opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} {speed}"
                    "-c max_connections=300 -c shared_buffers=128MB")
            try:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-w",
                          "-t", "60", "-l", str(self.root / "server.log"), "start")
                break
            except subprocess.CalledProcessError:
                continue
        else:
            raise RuntimeError(f"the test cluster did not start: see {self.root}/server.log")
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                      "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def with_dbname(url: str, name: str) -> str:
    """``url`` (a postgresql:// URL) pointing at database ``name``."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"{ENV_URL} must be a postgresql:// URL")
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of a server where the tests may create databases (see module docstring)."""
    url = os.environ.get(ENV_URL)
    if url:
        yield url
        return
    bin_dir = find_bin_dir()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        _unavailable(f"PostgreSQL tests skipped: no initdb found (install Debian's postgresql, "
                    f"or set {ENV_URL} to a server, or {ENV_BIN} to its binaries)")
    cluster = ThrowawayCluster(bin_dir)
    try:
        url = cluster.start()
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        cluster.stop()
        _unavailable(f"PostgreSQL tests skipped: the throwaway cluster did not start ({exc})")
    try:
        yield url
    finally:
        cluster.stop()


def create_database(server: str) -> str:
    """A new empty database on ``server``; returns its URL."""
    import psycopg

    name = f"counsel_test_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    return with_dbname(server, name)


def drop_database(server: str, url: str) -> None:
    """Drop the database of ``url`` (closing any connection left open)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    name = conninfo_to_dict(url)["dbname"]
    assert name.startswith("counsel_test_"), name
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def all_rows(url: str) -> dict[str, list[bytes]]:
    """Every row of every table of the database: its non-bytea columns as text, and each
    bytea value raw (as text, bytea would be hex, where digits could match by chance)."""
    import psycopg

    out: dict[str, list[bytes]] = {}
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for table in tables:
            cols = conn.execute("SELECT column_name, data_type FROM information_schema.columns "
                                "WHERE table_name = %s", (table,)).fetchall()
            plain = ", ".join(f'"{c}"' for c, kind in cols if kind != "bytea")
            out[table] = [r[0].encode("utf-8") for r in conn.execute(
                f'SELECT ROW({plain})::text FROM "{table}"')] if plain else []
            for col in (c for c, kind in cols if kind == "bytea"):
                out[table] += [bytes(r[0]) for r in conn.execute(
                    f'SELECT "{col}" FROM "{table}" WHERE "{col}" IS NOT NULL')]
    return out


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh database for this test alone."""
    url = create_database(pg_server)
    try:
        yield url
    finally:
        drop_database(pg_server, url)


@contextlib.contextmanager
def bench_server() -> Iterator[str]:
    """The server a benchmark uses: ``$COUNSEL_BENCH_PG_URL`` (a server whose role may create
    databases), else a throwaway cluster with fsync ON, so that commits are durable."""
    server = os.environ.get("COUNSEL_BENCH_PG_URL")
    if server:
        yield server
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("no PostgreSQL: install Debian's postgresql or set "
                         "COUNSEL_BENCH_PG_URL")
    cluster = ThrowawayCluster(bin_dir, durable=True)
    server = cluster.start()
    print(f"throwaway cluster with fsync on ({bin_dir})", flush=True)
    try:
        yield server
    finally:
        cluster.stop()
