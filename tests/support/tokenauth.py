"""A token service for the real registry: distribution's ``auth: token:`` with JWTs we sign.

This is the challenge/token flow of Docker Hub, GHCR, Quay, Harbor and GitLab, enforced by the
real ``docker-registry`` (it checks the signature against the certificate in ``rootcertbundle``,
the issuer, the audience, the expiry and the per-repository actions). The issuer here plays
``auth.docker.io``: Basic credentials in, a signed token out, granting the intersection of what
was asked and what the user may do. It records every scope it was asked for, so a test can show
which rights a client requested. It also answers the OAuth2 ``POST`` refresh-token grant
(distribution's "Oauth2 Token Authentication") for the refresh tokens it issued, which is how
docker, BuildKit and containers/image use an ``identitytoken`` login.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import secrets
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.registry.content import Pusher
from tests.support.elf import copy_mode_project
from tests.support.gitrepo import git
from tests.support.registry import RunningRegistry, run_registry

SERVICE = "dockyard-test-registry"
ISSUER = "dockyard-test-issuer"

#: repository name -> actions; "*" as a name stands for every repository.
Grants = Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class Asked:
    """One token request as the issuer saw it."""

    user: str  # "" for anonymous
    scopes: tuple[str, ...]  # as sent, one per ``scope=`` parameter
    agent: str  # User-Agent: tells dockyard's own requests from podman's
    status: int
    method: str = "GET"
    grant_type: str = ""  # the POST form's grant_type ("" for GET)
    client_id: str = ""
    password_sent: bool = False  # a Basic header or a password field came with the request


def _signing_pair(directory: Path) -> tuple[rsa.RSAPrivateKey, bytes, Path]:
    """An RSA key and a self-signed certificate for it; the certificate is the registry's
    ``rootcertbundle`` (it trusts tokens whose ``x5c`` chain ends there)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dockyard test token issuer")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    bundle = directory / "token-issuer.pem"
    bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert.public_bytes(serialization.Encoding.DER), bundle


class TokenIssuer:
    """``GET /token?service=S&scope=repository:R:pull,push`` with optional Basic credentials,
    and ``POST /token`` with the refresh-token grant for tokens from ``issue_refresh_token``.

    ``users`` are name -> password; ``grants`` are per user ("" for anonymous) what each
    repository allows. Unknown credentials get 401; known ones get a token carrying only the
    granted part of each scope (an empty grant is still a token: the registry then refuses).
    ``lifetime`` sets the JWT's ``exp`` (the registry enforces it, with 60 s of leeway);
    ``expires_in`` is what the answer states, independently, to play a client-side cache that
    outlives the token.
    """

    def __init__(self, directory: Path, users: Mapping[str, str],
                 grants: Mapping[str, Grants], *, tls: tuple[Path, Path] | None = None) -> None:
        self.users = dict(users)
        self.grants = {user: dict(g) for user, g in grants.items()}
        self.lifetime = 300.0
        self.expires_in = 300
        self.asked: list[Asked] = []
        #: refresh token -> user; ``rotate`` answers each grant with a new one (the old stays).
        self.refresh_tokens: dict[str, str] = {}
        self.rotate = False
        self._lock = threading.Lock()
        self._key, self._der, self.rootcertbundle = _signing_pair(directory)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.issuer = self  # type: ignore[attr-defined]
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        return f"{self.scheme}://{self.host}/token"

    def config_lines(self) -> list[str]:
        """The registry config's ``auth:`` section that sends clients here."""
        return ["auth:", "  token:", f"    realm: {self.realm}", f"    service: {SERVICE}",
                f"    issuer: {ISSUER}", f"    rootcertbundle: {self.rootcertbundle}"]

    def asked_by(self, agent: str) -> list[Asked]:
        """The requests whose User-Agent starts with ``agent``, in order."""
        with self._lock:
            return [a for a in self.asked if a.agent.startswith(agent)]

    def clear(self) -> None:
        with self._lock:
            self.asked.clear()

    def mint(self, user: str, access: list[dict[str, object]]) -> str:
        """A signed token for ``access`` as it is (fixtures push with it)."""
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": user, "aud": SERVICE, "iat": now, "nbf": now - 5,
                  "exp": now + int(self.lifetime), "jti": secrets.token_hex(8),
                  "access": access}
        headers = {"x5c": [base64.b64encode(self._der).decode("ascii")]}
        return jwt.encode(claims, self._key, algorithm="RS256", headers=headers)

    def grant(self, user: str, scopes: list[str]) -> list[dict[str, object]]:
        """What ``user`` gets of ``scopes``: each scope's actions cut to the user's grants."""
        allowed = self.grants.get(user, {})
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            may = allowed.get(name, allowed.get("*", frozenset())) if kind == "repository" \
                else allowed.get(f"{kind}:{name}", frozenset())
            given = sorted(a for a in actions.split(",") if a in may or "*" in may)
            if given:
                access.append({"type": kind, "name": name, "actions": given})
        return access

    def issue_refresh_token(self, user: str) -> str:
        """A refresh token for ``user``, as ``docker login`` to an OAuth2 registry keeps one."""
        token = "dy-refresh-" + secrets.token_urlsafe(24)
        with self._lock:
            self.refresh_tokens[token] = user
        return token

    def user_of(self, token: str) -> str | None:
        with self._lock:
            return self.refresh_tokens.get(token) if token else None

    def revoke(self, token: str) -> None:
        with self._lock:
            self.refresh_tokens.pop(token, None)

    def record(self, asked: Asked) -> None:
        with self._lock:
            self.asked.append(asked)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        issuer: TokenIssuer = self.server.issuer  # type: ignore[attr-defined]
        query = parse_qs(urlsplit(self.path).query)
        scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
        agent = self.headers.get("User-Agent", "")
        user = ""
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if issuer.users.get(user) != password:
                issuer.record(Asked(user, tuple(scopes), agent, 401, password_sent=True))
                self._answer(401, {"details": "incorrect username or password"})
                return
        if query.get("service", [""])[0] != SERVICE:
            issuer.record(Asked(user, tuple(scopes), agent, 400, password_sent=bool(user)))
            self._answer(400, {"details": "unknown service"})
            return
        issuer.record(Asked(user, tuple(scopes), agent, 200, password_sent=bool(user)))
        token = issuer.mint(user, issuer.grant(user, scopes))
        self._answer(200, {"token": token, "access_token": token,
                           "expires_in": issuer.expires_in})

    def do_POST(self) -> None:
        """The refresh-token grant: form ``grant_type``, ``refresh_token``, ``service``,
        ``scope`` (space-separated), ``client_id``; answers ``access_token`` (and a new
        ``refresh_token`` when the issuer rotates them)."""
        issuer: TokenIssuer = self.server.issuer  # type: ignore[attr-defined]
        form = parse_qs(self._body().decode(), keep_blank_values=True)

        def one(name: str) -> str:
            return form.get(name, [""])[0]

        scopes = [s for value in form.get("scope", []) for s in value.split(" ") if s]
        refresh = one("refresh_token")
        user = issuer.user_of(refresh)
        password_sent = "password" in form or self.headers.get("Authorization", "") != ""

        def record(status: int) -> None:
            issuer.record(Asked(user or "", tuple(scopes), self.headers.get("User-Agent", ""),
                                status, "POST", one("grant_type"), one("client_id"),
                                password_sent))

        if one("grant_type") != "refresh_token" or not one("client_id"):
            record(400)
            self._answer(400, {"error": "unsupported_grant_type"})
            return
        if one("service") != SERVICE:
            record(400)
            self._answer(400, {"error": "invalid_request", "error_description": "service"})
            return
        if user is None:
            record(400)  # RFC 6749 5.2: an unknown or expired refresh token is a 400
            self._answer(400, {"error": "invalid_grant"})
            return
        record(200)
        token = issuer.mint(user, issuer.grant(user, scopes))
        body: dict[str, object] = {"access_token": token, "expires_in": issuer.expires_in,
                                   "scope": " ".join(scopes)}
        if issuer.rotate:
            body["refresh_token"] = issuer.issue_refresh_token(user)
        self._answer(200, body)

    def _body(self) -> bytes:
        """The request body, by Content-Length or chunked (containers/image sends it chunked)."""
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        data = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers, up to the blank line
                    pass
                return data
            data += self.rfile.read(size)
            self.rfile.readline()  # the CRLF after each chunk

    def _answer(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextlib.contextmanager
def token_registry(directory: Path, users: Mapping[str, str], grants: Mapping[str, Grants],
                   *, tls: bool = False) -> Iterator[tuple[RunningRegistry, TokenIssuer]]:
    """The real registry with token auth, and its issuer on another loopback port (https with
    the registry's own throw-away CA when ``tls``)."""
    from tests.support.registry import make_ca_and_cert

    directory.mkdir(parents=True, exist_ok=True)
    pki = None
    if tls:
        ca, cert, key = make_ca_and_cert(directory)
        pki = (ca, cert, key)
    issuer = TokenIssuer(directory, users, grants, tls=pki[1:] if pki else None)
    issuer.start()
    try:
        with run_registry(auth_lines=issuer.config_lines(), pki=pki) as registry:
            yield registry, issuer
    finally:
        issuer.stop()


def project_on_private_base(registry: RunningRegistry, issuer: TokenIssuer, project: Path,
                            tag: str) -> Path:
    """A copy-mode project whose Dockerfile builds ``FROM`` ``team/base:1.0.0`` on the token
    registry (pushed here with a fixture token), committed and tagged ``tag``: a build then
    needs the engine itself to log in to that registry."""
    pusher = Pusher(registry.url, ca_file=registry.ca_file)
    pusher.http.headers["Authorization"] = "Bearer " + issuer.mint(
        "fixture", [{"type": "repository", "name": "team/base", "actions": ["pull", "push"]}])
    pusher.index("team/base", "1.0.0", ["linux/amd64", "linux/arm64"], attest=False)
    pusher.close()
    copy_mode_project(project)
    (project / "Dockerfile").write_text(
        f"FROM {registry.host}/team/base:1.0.0\nARG TARGETARCH\n"
        "COPY dist/${TARGETARCH}/app /bin/app\n")
    git(project, "commit", "-q", "-am", "on the private base")
    git(project, "tag", "-f", "-a", tag, "-m", tag)
    return project
