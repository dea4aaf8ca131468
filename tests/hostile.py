"""Scripted servers on 127.0.0.1 that answer what a broken proxy or an attacker would.

A :class:`ScriptedServer` answers each request from a script (a function of the request)
and keeps every request it received, headers and body included, so a test can assert what
reached it: for "another origin" the log must stay empty. Two servers are two origins;
``localhost`` and ``127.0.0.1`` are two host names for one. ``tls=True`` serves https with
a throwaway self-signed certificate (:func:`trusting`: the environment that trusts it).
An :class:`Answer` may stream a body of any size (``chunks``), or drop the connection;
a :class:`SilentServer` accepts connections and never answers, a :class:`FullServer`
accepts none (its queue is full: a new connection times out, as behind a firewall).
"""

from __future__ import annotations

import json
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from typing_extensions import override


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class Answer:
    """What to send back; ``trickle`` sends the body one byte per that many seconds.

    ``chunks`` streams the body instead, with ``length`` as its Content-Length, or chunked
    when None (then it may never end); ``drop`` closes the connection without an answer.
    """

    status: int = 200
    body: Any = None  # bytes or str as is, anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float | None = None
    chunks: Callable[[], Iterable[bytes]] | None = None
    length: int | None = None
    drop: bool = False

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


Script = Callable[[Received], Answer]


def meeting(meeting_id: str, start: str = "2026-06-20T09:00:00Z", **fields: Any) -> dict[str, Any]:
    """A minimal meeting record of series ``S``."""
    return {"id": meeting_id, "meetingSeriesId": "S", "start": start, **fields}


def series_then(pages: Script) -> Script:
    """A script for ``meeting_series_ids: ["S"]``: the lookup of ``S``, then ``pages``."""

    def answer(request: Received) -> Answer:
        if request.path.endswith("/meetings/S"):
            return Answer(body=meeting("S", meetingType="meetingSeries"))
        return pages(request)

    return answer


class ScriptedServer:
    """A threaded HTTP(S) server on 127.0.0.1 that answers from ``script`` and logs."""

    def __init__(self, script: Script, *, tls: bool = False) -> None:
        self.script = script
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._certificates: tempfile.TemporaryDirectory[str] | None = None
        self.scheme = "http"
        if tls:
            self._wrap_in_tls()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _wrap_in_tls(self) -> None:
        import ssl  # noqa: PLC0415  (only https servers need it)

        self._certificates = tempfile.TemporaryDirectory()
        folder = Path(self._certificates.name)
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-keyout",
                str(folder / "key.pem"),
                "-out",
                str(folder / "cert.pem"),
            ],
            check=True,
            capture_output=True,
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https"

    @property
    def certificate(self) -> Path:
        assert self._certificates is not None, "only a tls=True server has a certificate"
        return Path(self._certificates.name) / "cert.pem"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.origin}/v1"

    def record(self, request: Received) -> None:
        with self._lock:
            self.requests.append(request)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._certificates is not None:
            self._certificates.cleanup()


def trusting(server: ScriptedServer) -> dict[str, str]:
    """The environment in which requests trusts ``server``'s certificate."""
    return {"REQUESTS_CA_BUNDLE": str(server.certificate)}


def _handler_for(owner: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out apart: no 40 ms stall

        @override
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads ``owner.requests``."""

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            request = Received(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {name.lower(): value for name, value in self.headers.items()},
                self.rfile.read(length) if length else b"",
            )
            owner.record(request)
            answer = owner.script(request)
            if answer.drop:
                self.close_connection = True
                return
            self.send_response(answer.status)
            headers = {"Content-Type": "application/json", **answer.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            if answer.chunks is not None:
                self._stream(answer)
                return
            body = answer.encoded()
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                if answer.trickle is None:
                    self.wfile.write(body)
                    return
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(answer.trickle)
            except OSError:
                self.close_connection = True  # the tap gave up on it: fine

        def _stream(self, answer: Answer) -> None:
            assert answer.chunks is not None
            chunked = answer.length is None
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(answer.length))
            self.end_headers()
            try:
                for chunk in answer.chunks():
                    if chunked:
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    else:
                        self.wfile.write(chunk)
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass  # the tap stopped reading: what the test is about
            self.close_connection = True

    return Handler


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers (a hung server or proxy)."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}/v1"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return  # closed
            self._accepted.append(connection)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._socket.close()
        for connection in self._accepted:
            connection.close()


class FullServer:
    """A port on 127.0.0.1 whose accept queue is full: Linux drops new connections' SYNs,
    so connecting times out (what a firewall that drops packets looks like)."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0), backlog=0)
        self._filler = socket.create_connection(self._socket.getsockname()[:2])

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}/v1"

    def __enter__(self) -> FullServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._filler.close()
        self._socket.close()
