"""The HTTP side of the fake Webex: a threaded server on loopback that turns each request
into a :class:`RecordedRequest` for the fake to answer, and writes the :class:`Reply`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, cast
from urllib.parse import parse_qs, urlsplit

from typing_extensions import override

from .replies import RecordedRequest, Reply, error_reply


class App(Protocol):
    """What the server serves: the fake Webex."""

    verbose: bool

    def answer(self, request: RecordedRequest, body: bytes) -> Reply: ...


def loopback_only(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"host must be a loopback address, not {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"refusing to listen on non-loopback address {host!r}")
    return host


class HttpServer:
    """Serves ``app`` on a thread of its own from construction until :meth:`stop`."""

    def __init__(self, app: App, host: str, port: int) -> None:
        self._httpd = _Server((host, port), app)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="fake-webex", daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving and cut kept-alive connections, so clients see the server gone."""
        httpd = self._httpd
        httpd.shutdown()
        with httpd.connections_lock:
            for connection in list(httpd.connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        self._thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], app: App) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    @override
    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.app.verbose:
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeWebex/1.0"
    # Headers and body go out in two writes: with Nagle on, a kept-alive client's delayed
    # ACK then stalls every response of more than a few kB by 40 ms.
    disable_nagle_algorithm = True

    @override
    def version_string(self) -> str:
        return self.server_version

    @property
    def _server(self) -> _Server:
        return cast(_Server, self.server)

    @override
    def setup(self) -> None:
        super().setup()
        with self._server.connections_lock:
            self._server.connections.add(self.connection)

    @override
    def finish(self) -> None:
        with self._server.connections_lock:
            self._server.connections.discard(self.connection)
        super().finish()

    @override
    def log_message(self, format: str, *args: Any) -> None:
        if self._server.app.verbose:  # request lines carry no tokens; headers are not logged
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

    def _dispatch(self) -> None:
        arrived = time.monotonic()
        url = urlsplit(self.path)
        params = parse_qs(url.query, keep_blank_values=True)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = self.rfile.read(length) if length > 0 else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        if "form-urlencoded" in headers.get("content-type", ""):
            for name, values in parse_qs(body.decode(errors="replace")).items():
                params.setdefault(name, []).extend(values)
        request = RecordedRequest(self.command, url.path, params, headers, 0, 0, arrived)
        try:
            reply = self._server.app.answer(request, body)
        except Exception as exc:  # a bug of the fake: make it loud, not a dropped connection
            traceback.print_exc()
            reply = error_reply(500, f"Sandbox error: {exc!r}")
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        if reply.action == "reset":
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        body = reply.body
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if reply.action == "truncate":
            body = body[: len(body) // 2]
            self.close_connection = True
        self.wfile.write(body)
