"""Test doubles that sit in front of the real registry: a fault-injecting, counting reverse proxy
and a tiny Bearer token server.

The registry behind the proxy is always the real ``docker-registry``; the proxy only adds what a
local registry cannot do on demand: 429 with Retry-After, 500s, connection resets, stalls, slow
answers, redirects, bodies that are not what they claim, https in front of a plain-http registry,
and the Bearer-token challenge of Docker Hub / GHCR style registries (the Debian registry only
knows htpasswd Basic auth). The token server is a stand-in for ``auth.docker.io`` /
``ghcr.io/token``.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import secrets
import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-authorization", "proxy-authenticate"}


@dataclass
class Fault:
    """Answer the next ``times`` matching requests with ``status`` (or reset the connection)."""

    status: int = 500
    times: int = 1
    method: str | None = None  # None: any
    path_contains: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # the answer's body instead of a registry error document
    reset: bool = False
    tamper: bool = False  # forward, but alter one byte of the answer's body
    stall: bool = False  # read nothing, answer nothing, until the proxy stops (or 60 s)
    delay: float = 0.0  # forward, but only after this many seconds
    garbage: bool = False  # answer bytes that are not HTTP
    relative_location: bool = False  # forward, with the answer's Location cut to path?query

    def matches(self, method: str, path: str) -> bool:
        return (self.times > 0 and (self.method is None or self.method == method)
                and self.path_contains in path)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    status: int  # 0 for a reset or stalled connection (no answer)
    accept: str
    authorization: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Background:
    """A ThreadingHTTPServer on a loopback port, run in a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], bind: str = "127.0.0.1",
                 tls: tuple[Path, Path] | None = None) -> None:
        self._server = _Server((bind, 0), handler)
        self._server.owner = self  # type: ignore[attr-defined]
        self.host = f"{bind}:{self._server.server_address[1]}"
        if tls is not None:  # (certificate, key): https in front, whatever is behind
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


S = TypeVar("S", bound=_Background)


class TokenServer(_Background):
    """``GET /token?service=...&scope=...``: a token for known users (Basic) or anonymous pull."""

    def __init__(self, users: dict[str, str] | None = None, *, anonymous_pull: bool = True,
                 field_name: str = "token", bind: str = "127.0.0.1") -> None:
        super().__init__(_TokenHandler, bind)
        self.users = users or {}
        self.anonymous_pull = anonymous_pull
        self.field_name = field_name  # "token" (Docker Hub) or "access_token" (OAuth2 style)
        self.expires_in = 300  # seconds, as the token response states it
        self.service = "dockyard-test-registry"
        self.grants: dict[str, set[str]] = {}  # token -> granted "repo:action"
        self.requests: list[tuple[str, str]] = []  # (user or "", scope)
        self.lock = threading.Lock()

    @property
    def realm(self) -> str:
        return f"http://{self.host}/token"

    def expire_all(self) -> None:
        """Every token handed out so far stops working (it timed out at the service)."""
        with self.lock:
            self.grants.clear()

    def allows(self, token: str, grant: str) -> bool:
        with self.lock:
            return grant in self.grants.get(token, set())


class _TokenHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        server: TokenServer = self.server.owner  # type: ignore[attr-defined]
        query = parse_qs(urlsplit(self.path).query)
        scope = query.get("scope", [""])[0]
        user = ""
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if server.users.get(user) != password:
                self._answer(401, {"details": "incorrect username or password"})
                with server.lock:
                    server.requests.append((user, scope))
                return
        elif not server.anonymous_pull:
            self._answer(401, {"details": "authentication required"})
            return
        granted: set[str] = set()
        if scope.startswith("repository:"):
            _, repo, actions = scope.split(":", 2)
            for action in actions.split(","):
                if user or action == "pull":
                    granted.add(f"{repo}:{action}")
        token = secrets.token_urlsafe(16)
        with server.lock:
            server.grants[token] = granted
            server.requests.append((user, scope))
        self._answer(200, {server.field_name: token, "expires_in": server.expires_in})

    def _answer(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FaultProxy(_Background):
    """Reverse proxy to ``upstream`` ("127.0.0.1:PORT") that counts requests and injects faults.

    With ``bearer`` set it also plays the registry's auth front: requests without a valid token
    get ``401`` + ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``.
    """

    def __init__(self, upstream: str, *, bind: str = "127.0.0.1",
                 bearer: TokenServer | None = None, paginate: bool = False,
                 tls: tuple[Path, Path] | None = None) -> None:
        super().__init__(_ProxyHandler, bind, tls)
        self.upstream = upstream
        self.bearer = bearer
        # distribution 2.8 ignores ?n= on tag lists; distribution 3, Docker Hub and GHCR page
        # them (sorted, ``last=``, ``Link: <...>; rel="next"``). This plays that part.
        self.paginate = paginate
        self.faults: list[Fault] = []
        self.extra_headers: dict[str, str] = {}  # added to every forwarded answer (recorded ones)
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.released = threading.Event()  # ends every stalled request

    @property
    def tls(self) -> bool:
        return isinstance(self._server.socket, ssl.SSLSocket)

    def stop(self) -> None:
        self.released.set()
        super().stop()

    def inject(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    def record(self, seen: Seen) -> None:
        with self.lock:
            self.seen.append(seen)

    def reset_counts(self) -> None:
        with self.lock:
            self.seen.clear()
            self.faults.clear()

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.seen)

    def requests(self, method: str | None = None) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if method is None or s.method == method]


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        proxy: FaultProxy = self.server.owner  # type: ignore[attr-defined]
        accept = self.headers.get("Accept", "")
        authorization = self.headers.get("Authorization", "")

        def seen(status: int) -> None:
            proxy.record(Seen(self.command, self.path, status, accept, authorization))

        fault = proxy.take_fault(self.command, self.path)
        if fault is not None and fault.stall:  # before the body: an upload finds nobody reading
            seen(0)
            proxy.released.wait(60)
            self.close_connection = True
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if fault is not None and fault.garbage:
            seen(0)
            self.wfile.write(b"NOT HTTP AT ALL\r\n\r\n")
            self.close_connection = True
            return
        if fault is not None and fault.reset:
            seen(0)
            # RST instead of FIN: the client sees "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        forwarded = fault is not None and (fault.tamper or fault.delay or fault.relative_location)
        if fault is not None and not forwarded:
            seen(fault.status)
            self._reply(fault.status, dict(fault.headers),
                        b'{"errors":[{"code":"INJECTED","message":"fault injected by the test '
                        b'proxy"}]}' if fault.body is None else fault.body)
            return
        if proxy.bearer is not None and not self._authorized(proxy.bearer):
            seen(401)
            return
        if fault is not None and fault.delay:
            proxy.released.wait(fault.delay)
        status, headers, data = self._forward(proxy.upstream, body)
        if proxy.paginate and status == 200 and "/tags/list" in self.path:
            headers, data = self._page(headers, data)
        if fault is not None and fault.tamper and data:
            data = data[:-1] + bytes([data[-1] ^ 0x20])
        if fault is not None and fault.relative_location:
            for key, value in headers.items():
                if key.lower() == "location":
                    url = urlsplit(value)
                    headers[key] = f"{url.path}?{url.query}" if url.query else url.path
        headers.update(proxy.extra_headers)
        seen(status)
        self._reply(status, headers, data)

    def _authorized(self, tokens: TokenServer) -> bool:
        path = urlsplit(self.path).path
        parts = path.split("/")
        scope = ""
        if path != "/v2/" and len(parts) > 3:
            marker = next((i for i, p in enumerate(parts) if p in ("manifests", "blobs", "tags")),
                          len(parts))
            repo = "/".join(parts[2:marker])
            action = "pull" if self.command in ("GET", "HEAD") else "push"
            scope = f"repository:{repo}:{action}"
        header = self.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        if token and (not scope or tokens.allows(token, scope.split(":", 1)[1])):
            return True
        challenge = f'Bearer realm="{tokens.realm}",service="{tokens.service}"'
        if scope:
            challenge += f',scope="{scope}"'
        self._reply(401, {"WWW-Authenticate": challenge, "Content-Type": "application/json"},
                    b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')
        return False

    def _page(self, headers: dict[str, str], data: bytes) -> tuple[dict[str, str], bytes]:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if "n" not in query:
            return headers, data
        size, last = int(query["n"][0]), query.get("last", [""])[0]
        listing = json.loads(data)
        tags = sorted(t for t in listing.get("tags") or [] if t > last)
        listing["tags"] = tags[:size]
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        if len(tags) > size:
            headers["Link"] = f'<{url.path}?n={size}&last={tags[size - 1]}>; rel="next"'
        return headers, json.dumps(listing).encode()

    def _forward(self, upstream: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        host, port = upstream.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in _HOP_BY_HOP and k.lower() != "authorization"}
        if self.server.owner.tls:  # type: ignore[attr-defined]
            headers["X-Forwarded-Proto"] = "https"  # so the registry's Locations say https
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            out = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
            return response.status, out, data
        finally:
            conn.close()

    def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() != "content-length":
                self.send_header(key, value)
        length = headers.get("Content-Length") or headers.get("content-length")
        # A HEAD answer carries the entity's length but no body.
        self.send_header("Content-Length", length if self.command == "HEAD" and length
                         else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


@contextlib.contextmanager
def running(server: S) -> Iterator[S]:
    """Start ``server`` for the duration of a with-block / fixture."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
