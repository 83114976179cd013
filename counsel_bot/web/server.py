"""`counsel-bot web`: the desk as its own process, beside the running bot.

It listens on loopback only, unless told it sits behind a TLS proxy (which then ends TLS
and passes requests on): the desk's cookies are Secure, and its pages must never travel in
clear over a network. Uvicorn's access log is off: paths carry case IDs, and a log of who
opened which case belongs in the audit trail, which has it.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass

from counsel_bot.cases.signin import WEB_URL_ENV

log = logging.getLogger(__name__)


class ListenRefused(ValueError):
    """The desk was asked to listen where it must not."""


@dataclass(frozen=True)
class DeskOptions:
    host: str
    port: int
    behind_tls_proxy: bool = False
    base_url: str | None = None
    proxy_ips: str = "127.0.0.1"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_options(options: DeskOptions) -> str:
    """The desk's base URL for sign-in links; refuses an unsafe address."""
    if not is_loopback(options.host) and not options.behind_tls_proxy:
        raise ListenRefused(
            f"the desk will not listen on {options.host}: it serves sensitive data and "
            "listens on loopback (127.0.0.1) only, unless it sits behind a TLS proxy "
            "(--behind-tls-proxy)")
    if options.behind_tls_proxy:
        if not options.base_url or not options.base_url.startswith("https://"):
            raise ListenRefused(f"behind a TLS proxy, give the desk's public https:// address "
                                f"with --base-url or {WEB_URL_ENV}")
        return options.base_url.rstrip("/")
    return (options.base_url or f"http://{options.host}:{options.port}").rstrip("/")


def bound_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def uvicorn_server(asgi: object, options: DeskOptions) -> object:
    import uvicorn

    config = uvicorn.Config(asgi, access_log=False, log_config=None, server_header=False,
                            proxy_headers=options.behind_tls_proxy,
                            forwarded_allow_ips=options.proxy_ips, lifespan="off")
    return uvicorn.Server(config)
