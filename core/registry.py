"""Registry HTTP API v2 client: what is really published, read (and re-tagged) over plain HTTP.

Built on httpx (keep-alive, TLS) with the parts a release needs and nothing more:
the 401 challenge (Bearer token or Basic), manifests fetched with every Accept type (without
them the reference registry answers 404 for an OCI index), digests checked against the bytes,
paginated tag lists, blob uploads streamed from disk, and bounded retries so a flaky registry
does not fail a release half-way.

Every wait is bounded and interruptible: sockets block in short slices, and between slices the
cancel event (Ctrl+C) and the stall budget are checked, so a registry that stops answering
fails in ``stall_timeout`` and a cancel ends a request within a slice. Redirects are followed
by hand, so credentials never leave the registry host and https is never silently downgraded.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import ipaddress
import json
import math
import os
import re
import select
import shutil
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from core.errors import CredentialError, DockyardError, RegistryError

if TYPE_CHECKING:
    from core.reference import ImageName

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))

class StopFlag(Protocol):
    """What a client checks to give up early: a ``threading.Event`` (a run's cancel), or any
    object that answers the same two questions (core/release.py's stop while reporting)."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


#: Where a client gets its login when it first needs one (core/clients.py): username, secret
#: and identity token, each None when absent.
LoginLookup = Callable[[], tuple[str | None, str | None, str | None]]

#: How often a request is sent again after a transport error or a 429/5xx answer.
MAX_RETRIES = 4
#: Seconds a request may move no bytes before it fails (``--stall-timeout``).
STALL_TIMEOUT = 120.0
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHALLENGE_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_MAX_BLOB = 8 * 1024 * 1024  # image configs are kilobytes; a layer digest here is a mistake
_SLICE = 0.5  # longest a socket call blocks before the cancel event and the budget are checked
_MAX_REDIRECTS = 5
_CHUNK = 1024 * 1024  # upload read size: a layer is streamed, never held whole in memory


class RequestCancelled(RegistryError):
    """The cancel event was set (Ctrl+C) while a request was under way; nothing is retried."""


class _GaveUp(RegistryError):
    """Unreachable, or 429/5xx, until the retries ran out: worth a new upload session."""


class _Cancelled(Exception):
    """Raised at the socket level; the client turns it into RequestCancelled naming the request."""


@dataclass(frozen=True)
class ManifestHead:
    """What a HEAD tells: enough to compare tags without downloading anything."""

    digest: str
    media_type: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """A manifest as stored: ``raw`` bytes (whose sha256 is ``digest``) and the parsed ``json``."""

    digest: str
    media_type: str
    raw: bytes
    json: dict[str, Any]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def head(self) -> ManifestHead:
        return ManifestHead(self.digest, self.media_type, len(self.raw))


@dataclass(frozen=True)
class RateLimit:
    """The pull allowance a registry states in ``ratelimit-limit`` / ``ratelimit-remaining``
    (Docker Hub: ``100;w=21600`` is 100 pulls per 21600 s window, per IP or account)."""

    limit: int
    remaining: int
    window: int  # seconds; 0 when not stated

    def describe(self) -> str:
        if not self.window:
            return f"{self.remaining} of {self.limit} pulls left"
        hours, seconds = divmod(self.window, 3600)
        span = f"{hours} h" if hours and not seconds else f"{self.window} s"
        return f"{self.remaining} of {self.limit} pulls left per {span}"

    def to_dict(self) -> dict[str, int]:
        return {"limit": self.limit, "remaining": self.remaining, "window_seconds": self.window}


def read_rate_limit(headers: httpx.Headers) -> RateLimit | None:
    """The rate limit an answer states; None without both headers or when they do not read."""
    limit = _rate_value(headers.get("ratelimit-limit", ""))
    remaining = _rate_value(headers.get("ratelimit-remaining", ""))
    if limit is None or remaining is None:
        return None
    return RateLimit(limit[0], remaining[0], limit[1] or remaining[1])


def _rate_value(text: str) -> tuple[int, int] | None:
    """``100;w=21600`` -> (100, 21600); ``100`` -> (100, 0)."""
    count, _, params = text.strip().partition(";")
    if not count.strip().isdigit():
        return None
    window = 0
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key == "w" and value.isdigit():
            window = int(value)
    return int(count), window


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1, with or without a port."""
    name = urlsplit(f"//{host}").hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="..."`` -> ("bearer", {"realm": ..., "service": ...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _CHALLENGE_PARAM.finditer(rest)}
    return scheme.lower(), params


def normal_scope(scope: str) -> str:
    """Scopes and their actions sorted (distribution lists both in no fixed order), so one
    token is cached per set of rights: ``repository:a:push,pull`` -> ``repository:a:pull,push``.
    """
    parts = []
    for item in scope.split():
        resource, _, actions = item.rpartition(":")
        parts.append(f"{resource}:{','.join(sorted(set(actions.split(','))))}" if resource
                     else item)
    return " ".join(sorted(parts))


def retry_after_seconds(value: str, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks for: delay-seconds or an HTTP date (RFC 9110 10.2.3).

    None when the header is absent or unreadable, so the caller falls back to its backoff.
    """
    value = value.strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT; a zone-less one is read as such
        when = when.replace(tzinfo=UTC)
    return when.timestamp() - now


def _deadline(budget: float | None) -> float:
    return math.inf if budget is None else time.monotonic() + budget


def _next_slice(cancel: StopFlag | None, deadline: float,
                expired: type[Exception]) -> float:
    """How long the next socket call may block; raises when cancelled or out of budget."""
    if cancel is not None and cancel.is_set():
        raise _Cancelled
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("no progress within the allowed time")
    return min(_SLICE, left)


def _poll(sock: socket.socket, events: int, seconds: float) -> bool:
    poller = select.poll()
    poller.register(sock, events)
    return bool(poller.poll(seconds * 1000))


class _SlicedStream(httpcore.NetworkStream):
    """A socket whose every wait is cut into slices, so a stalled peer cannot hold the caller.

    httpcore passes the budget of each call (connect, read or write timeout); it is spent in
    slices of at most ``_SLICE`` seconds, re-armed whenever bytes move, so the read and write
    budgets mean "no bytes moved for that long" (the stall timeout), not "slower than that".
    """

    def __init__(self, sock: socket.socket, cancel: StopFlag | None) -> None:
        self._sock = sock
        self._cancel = cancel

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        deadline = _deadline(timeout)
        while True:
            self._sock.settimeout(_next_slice(self._cancel, deadline, httpcore.ReadTimeout))
            try:
                return self._sock.recv(max_bytes)
            except TimeoutError:
                continue
            except OSError as err:
                raise httpcore.ReadError(str(err)) from err

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        deadline = _deadline(timeout)
        while view:
            self._sock.settimeout(_next_slice(self._cancel, deadline, httpcore.WriteTimeout))
            try:
                sent = self._sock.send(view)
            except TimeoutError:
                continue  # nothing was sent: the same bytes go again (TLS requires it)
            except OSError as err:
                raise httpcore.WriteError(str(err)) from err
            view = view[sent:]
            deadline = _deadline(timeout)

    def close(self) -> None:
        self._sock.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        deadline = _deadline(timeout)
        try:
            tls = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname,
                                          do_handshake_on_connect=False)
        except OSError as err:
            self._sock.close()
            raise httpcore.ConnectError(str(err)) from err
        try:
            while True:
                tls.settimeout(_next_slice(self._cancel, deadline, httpcore.ConnectTimeout))
                try:
                    tls.do_handshake()  # resumes where the last slice left it
                    return _SlicedStream(tls, self._cancel)
                except TimeoutError:
                    continue
        except OSError as err:
            tls.close()
            raise httpcore.ConnectError(str(err)) from err
        except BaseException:
            tls.close()
            raise

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":  # httpcore asks it for the ALPN protocol
            return self._sock if isinstance(self._sock, ssl.SSLSocket) else None
        if info == "socket":
            return self._sock
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "is_readable":  # an idle keep-alive connection the server has closed
            return self._sock.fileno() < 0 or _poll(self._sock, select.POLLIN, 0)
        return None


class _SlicedBackend(httpcore.NetworkBackend):
    """Connects without blocking past a slice, so a cancel also ends a stalled connect."""

    def __init__(self, cancel: StopFlag | None) -> None:
        self._cancel = cancel

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                    ) -> httpcore.NetworkStream:
        deadline = _deadline(timeout)
        try:
            addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as err:
            raise httpcore.ConnectError(str(err)) from err
        failure: OSError | None = None
        for family, kind, proto, _, address in addresses:
            sock = socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setblocking(False)
                code = sock.connect_ex(address)
                while code in (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK):
                    wait = _next_slice(self._cancel, deadline, httpcore.ConnectTimeout)
                    if _poll(sock, select.POLLOUT, wait):
                        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, os.strerror(code))
            except OSError as err:
                sock.close()
                failure = err
                continue
            except BaseException:
                sock.close()
                raise
            return _SlicedStream(sock, self._cancel)
        raise httpcore.ConnectError(f"{host}:{port}: {failure}") from failure

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                            ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("registries are reached over TCP")


def _ssl_context(insecure: bool, ca_file: Path | None) -> ssl.SSLContext:
    """The system's trust store, plus ``ca_file`` for a private CA (added, never instead)."""
    context = ssl.create_default_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as err:
            raise RegistryError(f"CA file {ca_file} could not be read ({err})",
                                "give a PEM file holding the registry's CA certificate"
                                ) from None
    elif insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class RegistryClient:
    """One registry host. Not for concurrent use from several threads (one worker at a time).

    https first, always. Loopback hosts (a local test registry) and hosts marked ``insecure``
    fall back to plain http when the server does not speak TLS at all, as docker does; a
    certificate that fails verification never falls back. ``insecure`` also skips certificate
    verification. ``request_count`` counts every HTTP request sent, retries, redirects and token
    requests included (the failed TLS probe of a plain-http registry is not an HTTP request).

    ``insecure_hosts`` (HOST or HOST:PORT, the run's --insecure-registry list) are the other
    hosts a redirect may lead to over plain http; loopback always may.

    Bounds: a TCP connect plus TLS handshake gets ``connect_timeout`` seconds; a request that
    moves no bytes for ``stall_timeout`` seconds fails; ``timeout`` (for quick probes) caps both.
    Setting ``cancel`` (from any thread) ends the request under way with RequestCancelled.

    ``identity_token`` (an OAuth2 refresh token, docker's ``identitytoken``) replaces a
    username and secret: bearer tokens come from the realm by the refresh-token grant, as
    docker and BuildKit get them, and a Basic challenge is refused since there is no password.
    """

    def __init__(
        self,
        host: str,
        *,
        username: str | None = None,
        secret: str | None = None,
        identity_token: str | None = None,
        login: LoginLookup | None = None,
        insecure: bool = False,
        insecure_hosts: Iterable[str] = (),
        ca_file: Path | None = None,
        timeout: float | None = None,
        connect_timeout: float = 10.0,
        stall_timeout: float = STALL_TIMEOUT,
        cancel: StopFlag | None = None,
        max_retries: int = MAX_RETRIES,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if not host or "/" in host:
            raise RegistryError(f"{host!r} is not a registry host", "use HOST or HOST:PORT")
        self.host = host
        self._username = username
        self._secret_value = secret
        # Kept in memory only; a rotated one from the token service replaces it for this run.
        self._refresh_value = identity_token
        self._login_lookup = login
        self.insecure = insecure
        self._insecure_hosts = frozenset(insecure_hosts)
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        cap = math.inf if timeout is None else timeout
        self.connect_timeout = min(connect_timeout, cap)
        self.stall_timeout = min(stall_timeout, cap)
        self._cancel = cancel
        self._sleep = sleep
        self.request_count = 0
        self._host_only = urlsplit(f"//{host}").hostname or host
        self._scheme = "https"
        self._may_fall_back = (insecure or is_loopback(host)) and ca_file is None
        # Handed to the transport too: left to itself it loads a trust store of its own (~20 ms
        # per client) for the pool replaced below.
        context = _ssl_context(insecure, ca_file)
        transport = httpx.HTTPTransport(verify=context, retries=0)
        # httpx has no public hook for the network layer; this pool is the one it would build,
        # with sockets that wait in slices (cancel and stall checks) instead of blocking.
        transport._pool = httpcore.ConnectionPool(
            ssl_context=context, max_connections=10,
            max_keepalive_connections=10, keepalive_expiry=5.0, retries=0,
            network_backend=_SlicedBackend(cancel))
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(connect=self.connect_timeout, read=self.stall_timeout,
                                  write=self.stall_timeout, pool=self.connect_timeout),
            follow_redirects=False,  # followed by _exchange, under this client's rules
            headers={"User-Agent": "dockyard"},
        )
        # What the registry asked for at its last 401: None (nothing yet), "basic" or "bearer".
        self._auth_scheme: str | None = None
        self._bearer: dict[str, str] = {}
        self._tokens: dict[str, tuple[str, float]] = {}
        #: The allowance the registry stated last (Docker Hub's rate limit), if it states one.
        self.rate_limit: RateLimit | None = None

    @property
    def username(self) -> str | None:
        self._look_up_login()
        return self._username

    @property
    def _secret(self) -> str | None:
        self._look_up_login()
        return self._secret_value

    @property
    def _refresh_token(self) -> str | None:
        self._look_up_login()
        return self._refresh_value

    @_refresh_token.setter
    def _refresh_token(self, token: str) -> None:
        self._refresh_value = token

    def _look_up_login(self) -> None:
        """``login`` (given instead of a username and secret) is asked once, when a login is
        first needed (a 401 challenge): a registry that answers anonymously never costs a
        keyring lookup."""
        lookup, self._login_lookup = self._login_lookup, None
        if lookup is not None:
            self._username, self._secret_value, self._refresh_value = lookup()

    def __repr__(self) -> str:
        return (f"RegistryClient(host={self.host!r}, username={self._username!r}, "
                f"insecure={self.insecure!r})")

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def base_url(self) -> str:
        return f"{self._scheme}://{self.host}"

    # ---- public API -------------------------------------------------------------------------

    def ping(self) -> None:
        """GET /v2/: is this a Registry v2 API? A 401 counts as yes (it wants credentials)."""
        response = self._request("GET", "/v2/", repo=None, authenticate=False)
        if response.status_code == 401:
            self._remember_challenge(response)
        elif response.status_code != 200:
            raise self._error(None, "GET /v2/", response, "is it a Registry HTTP API v2 host?")

    def check_auth(self, repository: str | None = None) -> None:
        """Prove the credentials (or anonymous access) work; CredentialError when refused."""
        response = self._request("GET", "/v2/", repo=None)
        if response.status_code in (401, 403):
            raise self._denied(None, response)
        if response.status_code != 200:
            raise self._error(None, "GET /v2/", response)
        if repository is not None:
            response = self._request("GET", f"/v2/{repository}/tags/list", repo=repository,
                                     params={"n": "1"})
            if response.status_code in (401, 403):
                raise self._denied(repository, response)
            if response.status_code not in (200, 404):
                raise self._error(repository, "GET tags", response)

    def check_push(self, repo: str) -> None:
        """Prove the credentials may push to ``repo`` before a long build: open an upload
        session and abandon it; no blob, manifest or tag is written. A pull-only grant passes
        ``check_auth`` and would otherwise fail only at the upload. CredentialError when
        refused."""
        what = "POST upload (push access check)"
        response = self._request("POST", f"/v2/{repo}/blobs/uploads/", repo=repo, push=True)
        if response.status_code in (401, 403):
            error = self._denied(repo, response)
            raise CredentialError(f"{error.problem}: it may not push",
                                  "use a login (or token) with push access to this repository")
        self._raise_for(repo, what, response)
        if response.status_code != 202:
            return
        session = self._upload_url(repo, response, what)
        # as in mount_blob: the registry purges an abandoned session; the cancel is a courtesy
        # (token registries want delete rights for it, which a push token lacks)
        self._request("DELETE", str(session), repo=repo, push=True, authenticate=False).close()

    def head_manifest(self, repo: str, ref: str) -> ManifestHead | None:
        """Digest, media type and size of ``ref`` (tag or digest); None when it does not exist."""
        response = self._request("HEAD", f"/v2/{repo}/manifests/{ref}", repo=repo,
                                 headers={"Accept": MANIFEST_ACCEPT})
        if response.status_code == 404:
            return None
        self._raise_for(repo, f"HEAD manifest {ref}", response)
        digest = response.headers.get("Docker-Content-Digest")
        if digest is None:  # allowed by the spec: then only the body can tell
            return self.get_manifest(repo, ref).head
        if _DIGEST.match(ref) and digest != ref:
            raise RegistryError(f"{self.host}/{repo}: manifest {ref} answered with digest "
                                f"{digest}", "the registry returned other content")
        return ManifestHead(digest, _media_type(response), int(response.headers.get(
            "Content-Length", "0")))

    def get_manifest(self, repo: str, ref: str) -> Manifest:
        """The manifest of ``ref`` (tag or digest); RegistryError when it does not exist."""
        manifest = self.find_manifest(repo, ref)
        if manifest is None:
            raise RegistryError(f"{self.host}/{repo}: manifest {ref} not found",
                                "check the image name and tag")
        return manifest

    def find_manifest(self, repo: str, ref: str) -> Manifest | None:
        """The manifest bytes, checked against Docker-Content-Digest (and ``ref`` if a digest)."""
        response = self._request("GET", f"/v2/{repo}/manifests/{ref}", repo=repo,
                                 headers={"Accept": MANIFEST_ACCEPT})
        if response.status_code == 404:
            return None
        self._raise_for(repo, f"GET manifest {ref}", response)
        raw = response.content
        digest = sha256_digest(raw)
        claimed = response.headers.get("Docker-Content-Digest")
        for expected in (claimed, ref if _DIGEST.match(ref) else None):
            if expected is not None and expected != digest:
                raise RegistryError(
                    f"{self.host}/{repo}: manifest {ref} body has digest {digest}, "
                    f"registry said {expected}", "the content was altered or truncated in transit")
        document = _json_object(raw, f"{self.host}/{repo}: manifest {ref}")
        media_type = document.get("mediaType") or _media_type(response)
        return Manifest(digest, str(media_type), raw, document)

    def get_blob_json(self, repo: str, digest: str) -> dict[str, Any]:
        """A small JSON blob (an image config), checked against its digest."""
        response = self._request("GET", f"/v2/{repo}/blobs/{digest}", repo=repo)
        if response.status_code == 404:
            raise RegistryError(f"{self.host}/{repo}: blob {digest} not found",
                                "the manifest points at a blob the registry does not have")
        self._raise_for(repo, f"GET blob {digest}", response)
        raw = response.content
        if len(raw) > _MAX_BLOB:
            raise RegistryError(f"{self.host}/{repo}: blob {digest} is {len(raw)} bytes",
                                "only small JSON blobs (image configs) are read")
        if sha256_digest(raw) != digest:
            raise RegistryError(f"{self.host}/{repo}: blob {digest} body has digest "
                                f"{sha256_digest(raw)}", "the content was altered in transit")
        return _json_object(raw, f"{self.host}/{repo}: blob {digest}")

    def list_tags(self, repo: str, *, page_size: int | None = None,
                  missing_ok: bool = False) -> list[str]:
        """Every tag of ``repo``, following ``Link: <...>; rel="next"`` pages; ``missing_ok``: a
        repository that does not exist yet has no tags (else it is an error)."""
        params = {"n": str(page_size)} if page_size else None
        path: str | None = f"/v2/{repo}/tags/list"
        seen: set[str] = set()
        tags: list[str] = []
        while path is not None and path not in seen:
            seen.add(path)
            response = self._request("GET", path, repo=repo, params=params)
            params = None  # the next link carries its own query
            if response.status_code == 404 and missing_ok:
                return tags
            if response.status_code == 404:
                raise RegistryError(f"{self.host}/{repo}: repository not found",
                                    "check the image name (nothing pushed yet?)")
            self._raise_for(repo, "GET tags", response)
            page = _json_object(response.content, f"{self.host}/{repo}: tag list")
            tags.extend(str(tag) for tag in page.get("tags") or ())
            path = _next_link(response)
        return tags

    def list_repositories(self) -> list[str] | None:
        """The repositories ``/v2/_catalog`` lists, following its pages; None when the registry
        has no catalog or refuses it (Docker Hub, GHCR and Quay have none to offer)."""
        path: str | None = "/v2/_catalog"
        seen: set[str] = set()
        names: list[str] = []
        while path is not None and path not in seen:
            seen.add(path)
            response = self._request("GET", path, repo=None, scope="registry:catalog:*")
            if response.status_code in (401, 403, 404, 405):
                return None
            self._raise_for(None, "GET catalog", response)
            page = _json_object(response.content, f"{self.host}: catalog")
            names.extend(str(name) for name in page.get("repositories") or ())
            path = _next_link(response)
        return names

    def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> str:
        """PUT ``raw`` unchanged under ``ref``; the bytes are identical, so is the digest."""
        digest = sha256_digest(raw)
        what = f"PUT manifest {ref}"
        attempt = 0
        while True:
            response = self._request("PUT", f"/v2/{repo}/manifests/{ref}", repo=repo, push=True,
                                     headers={"Content-Type": media_type}, content=raw)
            # We hashed these bytes ourselves, so DIGEST_INVALID means the registry read another
            # writer's half-written copy of the same manifest (distribution's filesystem storage
            # truncates and rewrites it in place): two runs pushing one image at once. The PUT
            # is idempotent; sending it again once that writer is done succeeds.
            if (response.status_code != 400 or _error_code(response) != "DIGEST_INVALID"
                    or attempt >= self.max_retries):
                break
            response.close()
            self._pause(self.backoff * 2**attempt, repo, what)
            attempt += 1
        self._raise_for(repo, what, response)
        claimed = response.headers.get("Docker-Content-Digest")
        if claimed is not None and claimed != digest:
            raise RegistryError(f"{self.host}/{repo}: PUT {ref} stored digest {claimed}, "
                                f"sent {digest}", "the registry rewrote the manifest")
        return digest

    def blob_exists(self, repo: str, digest: str) -> bool:
        """HEAD the blob: True when the registry has it (then it need not be uploaded)."""
        return self._blob_exists(repo, digest, push=False)

    def upload_blob(self, repo: str, digest: str, path: Path, size: int) -> None:
        """Upload ``path`` as blob ``digest`` unless the registry has it already.

        One POST opens the upload, one PUT streams the file from disk in chunks (the cancel
        event is checked between chunks; a registry that accepts no bytes for
        ``stall_timeout`` fails it) and names the digest, which the registry checks and echoes.
        A PUT broken by the network or a 429/5xx is tried again in a new session, at most
        ``max_retries`` times.
        """
        _check_digest(self.host, repo, digest)
        if self._blob_exists(repo, digest, push=True):
            return
        try:
            actual = path.stat().st_size
        except OSError as err:
            raise RegistryError(f"{self.host}/{repo}: blob {digest} file {path} cannot be "
                                f"read ({err.strerror})", "give an existing layer file") from None
        if actual != size:
            raise RegistryError(f"{self.host}/{repo}: blob {digest} file {path} has {actual} "
                                f"bytes, expected {size}", "the file changed since it was built")
        attempt = 0
        while True:
            target = self._open_upload(repo, digest)
            # The session's query (distribution keeps its state there) stays byte for byte.
            query = target.query + (b"&" if target.query else b"") + b"digest=" + digest.encode()
            try:
                # Not sent again to the same session: after a broken PUT it holds an unknown
                # part of the file, so a retry starts a new one.
                response = self._request(
                    "PUT", str(target.copy_with(query=query)), repo=repo, push=True, retries=0,
                    headers={"Content-Type": "application/octet-stream",
                             "Content-Length": str(size)},
                    content=_FileChunks(path, self._cancel))
                break
            except _GaveUp as err:
                if attempt >= self.max_retries:
                    raise RegistryError(f"{err.problem} (upload tried in {attempt + 1} "
                                        "sessions)", err.valid) from None
            self._pause(self.backoff * 2**attempt, repo, f"upload of {digest}")
            attempt += 1
        self._raise_for(repo, f"PUT blob {digest}", response)
        stored = response.headers.get("Docker-Content-Digest")
        if stored is None and not self._blob_exists(repo, digest, push=True):
            raise RegistryError(f"{self.host}/{repo}: blob {digest} is missing after its upload",
                                "the registry accepted the upload but does not serve it")
        if stored is not None and stored != digest:
            raise RegistryError(f"{self.host}/{repo}: upload of {digest} stored {stored}",
                                "the file is not the blob it was named as; rebuild it")

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Cross-repository mount of ``digest`` from ``from_repo`` into ``repo``.

        True when mounted (201). False when the registry opened an upload instead (it cannot
        or may not mount; that session is abandoned) or refused the source's scope: the caller
        uploads the blob.
        """
        _check_digest(self.host, repo, digest)
        what = f"POST mount {digest} from {from_repo}"
        response = self._request(
            "POST", f"/v2/{repo}/blobs/uploads/", repo=repo, push=True,
            params={"mount": digest, "from": from_repo},
            scope=f"repository:{repo}:pull,push repository:{from_repo}:pull")
        if response.status_code in (401, 403):
            # A token registry grants all of a request's scopes or refuses it: no pull on
            # ``from_repo`` refuses the mount, not the push. The upload asks for its own token.
            response.close()
            return False
        self._raise_for(repo, what, response)
        if response.status_code == 201:
            return True
        if response.status_code != 202:
            raise self._error(repo, what, response, "expected 201 (mounted) or 202 (upload)")
        session = self._upload_url(repo, response, what)
        # An abandoned session only costs the registry until it expires; its answer is moot.
        # Token registries want ``delete`` rights to cancel it, which a release never asks for:
        # the push token is offered, and a refusal is not answered with a wider token request.
        self._request("DELETE", str(session), repo=repo, push=True, authenticate=False).close()
        return False

    # ---- plumbing ---------------------------------------------------------------------------

    def _blob_exists(self, repo: str, digest: str, *, push: bool) -> bool:
        _check_digest(self.host, repo, digest)
        response = self._request("HEAD", f"/v2/{repo}/blobs/{digest}", repo=repo, push=push)
        if response.status_code == 404:
            return False
        self._raise_for(repo, f"HEAD blob {digest}", response)
        return True

    def _open_upload(self, repo: str, digest: str) -> httpx.URL:
        """POST for a new upload session; its URL."""
        session = self._request("POST", f"/v2/{repo}/blobs/uploads/", repo=repo, push=True)
        self._raise_for(repo, f"POST upload {digest}", session)
        if session.status_code != 202:
            raise self._error(repo, f"POST upload {digest}", session,
                              "the registry did not open an upload session (202)")
        return self._upload_url(repo, session, f"POST upload {digest}")

    def _upload_url(self, repo: str, response: httpx.Response, what: str) -> httpx.URL:
        """The upload session's URL from ``Location`` (relative or absolute), on this host only."""
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"{self._where(repo)}: {what} answered without a Location",
                                "the registry did not say where to upload")
        try:
            target = response.request.url.join(location)
        except httpx.InvalidURL:
            raise RegistryError(f"{self._where(repo)}: {what} answered Location {location!r}",
                                "not a URL dockyard can follow") from None
        if _origin(target) != _origin(response.request.url):
            raise RegistryError(f"{self._where(repo)}: {what} points the upload at another "
                                f"host {target.netloc.decode('ascii', 'replace')}",
                                "not followed: credentials stay with the registry host")
        self._check_scheme(repo, what, target)
        return target

    def _request(
        self,
        method: str,
        path: str,
        *,
        repo: str | None,
        push: bool = False,
        scope: str | None = None,
        authenticate: bool = True,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        content: bytes | Iterable[bytes] | None = None,
        retries: int | None = None,
    ) -> httpx.Response:
        """Send with retries; on a 401 answer the challenge once and send again.

        ``path`` is a path on the registry or (an upload session) an absolute URL on it;
        ``scope`` is the token scope when it is more than ``repo``'s pull (or pull,push);
        ``retries`` overrides ``max_retries`` (an upload retries with a new session instead).
        """
        if scope is None:
            scope = f"repository:{repo}:{'pull,push' if push else 'pull'}" if repo else ""
        scope = normal_scope(scope)
        response = self._send(method, path, repo, headers, params, content, scope, retries)
        if response.status_code == 401 and authenticate:
            self._remember_challenge(response)
            _, challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
            scope = normal_scope(challenge.get("scope", scope))
            if self._auth_scheme == "basic" and self._refresh_token is not None:
                raise CredentialError(
                    f"{self._where(repo)} asks for Basic auth, which an identitytoken login "
                    "cannot answer (it has no password)",
                    f"log in with a username and token: dockyard login {self.host}")
            if self._auth_scheme == "basic" and self._secret is None:
                return response
            if self._auth_scheme == "bearer":
                self._tokens.pop(scope, None)
            response = self._send(method, path, repo, headers, params, content, scope, retries)
        return response

    def _send(
        self,
        method: str,
        path: str,
        repo: str | None,
        headers: dict[str, str] | None,
        params: dict[str, str] | None,
        content: bytes | Iterable[bytes] | None,
        scope: str,
        retries: int | None,
    ) -> httpx.Response:
        merged = dict(headers or {})
        authorization = self._authorization(scope, repo)
        if authorization is not None:
            merged["Authorization"] = authorization
        url = urljoin(self.base_url, path)  # the scheme may have fallen back to http meanwhile
        try:
            request = self._http.build_request(method, url, headers=merged, params=params,
                                               content=content)
        except httpx.InvalidURL as err:
            raise RegistryError(f"{self._where(repo)}: {method} {path} is not a valid URL "
                                f"({err})", "check the image name") from None
        return self._with_retries(request, repo, retries)

    def _with_retries(self, request: httpx.Request, repo: str | None,
                      retries: int | None = None) -> httpx.Response:
        what = f"{request.method} {request.url.path}"
        limit = self.max_retries if retries is None else retries
        attempt = 0
        while True:
            self._check_cancel(repo, what)
            try:
                response = self._exchange(request, repo, what)
            except _Cancelled:
                raise self._cancelled(repo, what) from None
            except httpx.TimeoutException as err:
                raise self._timeout_error(repo, what, err) from None
            except httpx.TransportError as err:
                tls = _tls_failure(err)
                if tls is not None:
                    if (isinstance(tls, ssl.SSLCertVerificationError) or not self._may_fall_back
                            or request.url.host != self._host_only):
                        raise self._tls_error(repo, err) from None
                    # Loopback or marked insecure, and no TLS there: plain http, as docker does.
                    self._may_fall_back = False
                    self._scheme = "http"
                    request = httpx.Request(
                        request.method, request.url.copy_with(scheme="http"),
                        headers=request.headers, stream=request.stream,
                        extensions=request.extensions)
                    continue
                self.request_count += 1
                if attempt >= limit:
                    raise _GaveUp(
                        f"{self._where(repo)}: {what} failed after {_attempts(attempt + 1)} "
                        f"({type(err).__name__}: {err})",
                        "check the registry is reachable, then retry") from None
                delay = self.backoff * 2**attempt
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as err:
                # Not the network: a body that does not decode, a bad URL. Retrying won't help.
                raise RegistryError(f"{self._where(repo)}: {what} failed "
                                    f"({type(err).__name__}: {err})",
                                    "the registry's answer could not be read") from None
            else:
                self.rate_limit = read_rate_limit(response.headers) or self.rate_limit
                if response.status_code not in _RETRY_STATUS:
                    return response
                if attempt >= limit:
                    raise self._error(repo, f"{what} (after {_attempts(attempt + 1)})", response,
                                      kind=_GaveUp)
                delay = self._retry_after(response, self.backoff * 2**attempt)
                response.close()
            self._pause(delay, repo, what)
            attempt += 1

    def _exchange(self, request: httpx.Request, repo: str | None, what: str) -> httpx.Response:
        """Send ``request``, following GET/HEAD redirects (at most ``_MAX_REDIRECTS``).

        A hop to another host goes without the Authorization header (registries send blob
        downloads to a storage host), and never to plain http unless that is loopback or this
        registry marked insecure.
        """
        response = self._http.send(request)
        self.request_count += 1
        hops = 0
        while response.is_redirect and request.method in ("GET", "HEAD"):
            response.close()
            hops += 1
            if hops > _MAX_REDIRECTS:
                raise RegistryError(f"{self._where(repo)}: {what} was redirected more than "
                                    f"{_MAX_REDIRECTS} times (a redirect loop?)",
                                    "check the registry's address and its proxy setup")
            target = request.url.join(response.headers["Location"])
            self._check_scheme(repo, what, target)
            headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
            if _origin(target) != _origin(request.url):
                headers.pop("authorization", None)
            request = self._http.build_request(request.method, target, headers=headers)
            try:
                response = self._http.send(request)
            except httpx.TransportError as err:
                if _tls_failure(err) is not None:  # another host: never a plain-http fallback
                    raise self._tls_error(repo, err) from None
                raise
            self.request_count += 1
        return response

    def _check_scheme(self, repo: str | None, what: str, target: httpx.URL) -> None:
        """Plain http only to loopback, or to a host marked insecure (this one or another)."""
        if target.scheme == "https":
            return
        where = target.netloc.decode("ascii", "replace")
        marked = ((self.insecure and target.host == self._host_only)
                  or not self._insecure_hosts.isdisjoint({where, target.host}))
        if target.scheme != "http" or not (marked or is_loopback(target.host)):
            raise RegistryError(f"{self._where(repo)}: {what} was sent on to {target.scheme} "
                                f"{where}, which is not https",
                                f"not followed; if {where} is meant to serve plain http, "
                                f"pass --insecure-registry {where}")

    def _check_cancel(self, repo: str | None, what: str) -> None:
        if self._cancel is not None and self._cancel.is_set():
            raise self._cancelled(repo, what)

    def _cancelled(self, repo: str | None, what: str) -> RequestCancelled:
        return RequestCancelled(f"{self._where(repo)}: {what} cancelled",
                                "nothing more was sent; run again to finish")

    def _pause(self, seconds: float, repo: str | None, what: str) -> None:
        """Wait before a retry; a cancel cuts the wait short."""
        if self._sleep is not None:
            self._sleep(seconds)
        elif self._cancel is not None:
            self._cancel.wait(seconds)
        else:
            time.sleep(seconds)
        self._check_cancel(repo, what)

    def _timeout_error(self, repo: str | None, what: str,
                       err: httpx.TimeoutException) -> RegistryError:
        if isinstance(err, httpx.ConnectTimeout):
            return RegistryError(
                f"{self._where(repo)}: {what}: no connection to {_host_of(err, self.host)} within "
                f"{self.connect_timeout:g} s (TCP connect and TLS handshake)",
                "check the registry address and port, and that it is up")
        return RegistryError(
            f"{self._where(repo)}: {what} stalled: no bytes moved for {self.stall_timeout:g} s",
            "the registry or the network stopped answering; retry later")

    def _retry_after(self, response: httpx.Response, fallback: float) -> float:
        seconds = retry_after_seconds(response.headers.get("Retry-After", ""), time.time())
        if seconds is None:
            return fallback
        return min(max(seconds, 0.0), self.max_retry_after)

    def _authorization(self, scope: str, repo: str | None) -> str | None:
        if self._auth_scheme == "basic" and self._secret is not None:
            return self._basic_header()
        if self._auth_scheme == "bearer":
            return f"Bearer {self._token(scope, repo)}"
        return None

    def _remember_challenge(self, response: httpx.Response) -> None:
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if scheme == "bearer" and params.get("realm"):
            self._auth_scheme = "bearer"
            self._bearer = {"realm": params["realm"], "service": params.get("service", "")}
        elif scheme == "basic":
            self._auth_scheme = "basic"
        else:
            raise RegistryError(f"{self.host}: unsupported auth challenge {scheme or 'none'!r}",
                                "dockyard speaks Bearer token and Basic auth")

    def _token(self, scope: str, repo: str | None) -> str:
        """A Bearer token for ``scope`` from the realm, cached until it expires."""
        cached = self._tokens.get(scope)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        realm = self._bearer["realm"]
        try:
            realm_url = httpx.URL(realm)
        except httpx.InvalidURL:
            raise RegistryError(f"{self.host}: token realm {realm!r} is not a URL",
                                "the registry's auth challenge is broken") from None
        realm_host = realm_url.netloc.decode("ascii")
        if realm_url.scheme != "https" and not (self.insecure or is_loopback(realm_host)):
            raise RegistryError(f"{self.host}: token realm {realm} is not https",
                                f"pass --insecure-registry {self.host} to allow it")
        params: dict[str, str | list[str]] = {"scope": scope.split()}  # a mount asks for two
        if self._bearer["service"]:
            params["service"] = self._bearer["service"]
        if self._refresh_token is not None:
            body = self._refresh_grant(realm_url, scope, repo)
        else:
            body = self._token_get(realm_url, params, repo)
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{self.host}: token response has no token",
                                "the token service answered without 'token'/'access_token'")
        lifetime = body.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) else 60.0
        expiry = time.monotonic() + max(seconds - 5, 1.0)
        self._tokens[scope] = (token, expiry)
        return token

    def _token_get(self, realm_url: httpx.URL, params: dict[str, str | list[str]],
                   repo: str | None) -> dict[str, Any]:
        """The token spec's GET, with Basic credentials when there is a login."""
        headers = {"Authorization": self._basic_header()} if self._secret is not None else {}
        request = self._http.build_request("GET", realm_url, params=params, headers=headers)
        response = self._with_retries(request, repo)
        if response.status_code in (401, 403):
            raise CredentialError(f"{self._where(repo)}: the token service refused "
                                  f"{'the credentials' if headers else 'anonymous access'} "
                                  f"(HTTP {response.status_code})",
                                  "check the username and token for this registry")
        if response.status_code != 200:
            raise self._error(repo, "GET token", response)
        return _json_object(response.content, f"{self.host}: token response")

    def _refresh_grant(self, realm_url: httpx.URL, scope: str,
                       repo: str | None) -> dict[str, Any]:
        """The token spec's OAuth2 POST with the identity token (grant_type=refresh_token).

        The token goes in the form body only, never in the URL; a new ``refresh_token`` in the
        answer replaces it in memory for the rest of the run and is written nowhere.
        """
        assert self._refresh_token is not None
        form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token,
                "client_id": "dockyard"}
        if self._bearer["service"]:
            form["service"] = self._bearer["service"]
        if scope:
            form["scope"] = scope  # the spec's one space-separated field (a mount asks for two)
        request = self._http.build_request("POST", realm_url, data=form)
        response = self._with_retries(request, repo)
        if response.status_code in (400, 401, 403) and (
                response.status_code != 400 or _oauth_error(response) == "invalid_grant"):
            raise CredentialError(f"{self._where(repo)}: the token service refused the identity "
                                  f"token (HTTP {response.status_code}; expired or revoked?)",
                                  f"log in again with the tool that wrote it (docker login, "
                                  f"az acr login), or dockyard login {self.host}")
        if response.status_code != 200:
            raise self._error(repo, "POST token (refresh_token grant)", response)
        body = _json_object(response.content, f"{self.host}: token response")
        renewed = body.get("refresh_token")
        if isinstance(renewed, str) and renewed:
            self._refresh_token = renewed
        return body

    def _basic_header(self) -> str:
        pair = f"{self.username or ''}:{self._secret or ''}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def _raise_for(self, repo: str | None, what: str, response: httpx.Response) -> None:
        if response.status_code in (401, 403):
            raise self._denied(repo, response)
        if not 200 <= response.status_code < 300:
            raise self._error(repo, what, response)

    def _denied(self, repo: str | None, response: httpx.Response) -> CredentialError:
        who = ("the identity token" if self._refresh_token is not None
               else f"user {self.username!r}" if self._secret is not None else "anonymous access")
        return CredentialError(
            f"{self._where(repo)}: {who} was refused (HTTP {response.status_code}"
            f"{_registry_message(response)})",
            "log in with a username and token allowed to access this repository")

    def _error(self, repo: str | None, what: str, response: httpx.Response,
               hint: str = "", kind: type[RegistryError] = RegistryError) -> RegistryError:
        return kind(
            f"{self._where(repo)}: {what} answered HTTP {response.status_code}"
            f"{_registry_message(response)}",
            hint or "retry later, or check the registry's status")

    def _tls_error(self, repo: str | None, err: httpx.TransportError) -> RegistryError:
        return RegistryError(f"{self._where(repo)}: TLS connection failed ({err})",
                             f"give --ca-file for a private CA, or if {self.host} serves plain "
                             f"http, pass --insecure-registry {self.host}")

    def _where(self, repo: str | None) -> str:
        return f"{self.host}/{repo}" if repo else self.host


def client_for(
    image: ImageName,
    *,
    username: str | None = None,
    secret: str | None = None,
    identity_token: str | None = None,
    login: LoginLookup | None = None,
    insecure_registries: Iterable[str] = (),
    ca_file: Path | None = None,
    cancel: StopFlag | None = None,
    stall_timeout: float | None = None,
    max_retries: int | None = None,
) -> RegistryClient:
    """A client for the registry of ``image``; insecure only if its domain was marked so;
    ``cancel`` ends its requests early (a run's Ctrl-C or SIGTERM); ``login`` as the client's."""
    marked = set(insecure_registries)
    insecure = image.domain in marked or image.api_host in marked
    return RegistryClient(image.api_host, username=username, secret=secret,
                          identity_token=identity_token, login=login, insecure=insecure,
                          insecure_hosts=marked,
                          ca_file=ca_file, cancel=cancel,
                          stall_timeout=STALL_TIMEOUT if stall_timeout is None else stall_timeout,
                          max_retries=MAX_RETRIES if max_retries is None else max_retries)


class _FileChunks:
    """A file as a request body, read in chunks; iterable again (a retry sends it anew)."""

    def __init__(self, path: Path, cancel: StopFlag | None) -> None:
        self._path = path
        self._cancel = cancel

    def __iter__(self) -> Iterator[bytes]:
        try:
            with self._path.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    if self._cancel is not None and self._cancel.is_set():
                        raise _Cancelled
                    yield chunk
        except OSError as err:  # raised inside httpx's send, which passes it through as is
            raise RegistryError(f"{self._path} could not be read while uploading it "
                                f"({err.strerror})", "keep the build output until the push "
                                "is done") from None


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


def _check_digest(host: str, repo: str, digest: str) -> None:
    if not _DIGEST.match(digest):
        raise RegistryError(f"{host}/{repo}: {digest!r} is not a blob digest",
                            "use sha256: and 64 lowercase hex digits")


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    """Scheme, host and effective port: what must match for credentials to go along."""
    return url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80)


def _host_of(err: httpx.RequestError, fallback: str) -> str:
    try:
        return err.request.url.host
    except RuntimeError:  # httpx attaches the request on the way out; not guaranteed
        return fallback


def _media_type(response: httpx.Response) -> str:
    return str(response.headers.get("Content-Type", "")).split(";")[0].strip()


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except ValueError:
        raise RegistryError(f"{what} is not JSON", "the registry answered something else") from None
    if not isinstance(document, dict):
        raise RegistryError(f"{what} is not a JSON object", "the registry answered something else")
    return document


def _oauth_error(response: httpx.Response) -> str:
    """The ``error`` code of an OAuth2 error answer (RFC 6749 5.2), "" if there is none."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def _error_code(response: httpx.Response) -> str:
    """The first ``errors[].code`` of a registry error body ("" when there is none)."""
    try:
        return str(json.loads(response.content)["errors"][0]["code"])
    except (ValueError, KeyError, IndexError, TypeError, httpx.ResponseNotRead):
        return ""


def _registry_message(response: httpx.Response) -> str:
    """The first ``errors[].code: message`` of a registry error body, if there is one."""
    try:
        errors = json.loads(response.content).get("errors") or []
        first = errors[0]
        return f", {first.get('code', '')}: {first.get('message', '')}".rstrip(": ")
    except (ValueError, AttributeError, IndexError, TypeError, httpx.ResponseNotRead):
        return ""


def _next_link(response: httpx.Response) -> str | None:
    """The next page as ``path?query``; a link to another host is not followed (credentials)."""
    match = _LINK_NEXT.search(response.headers.get("Link", ""))
    if match is None:
        return None
    target = urlsplit(urljoin(str(response.url), match.group(1)))
    if target.netloc != response.url.netloc.decode("ascii"):
        raise RegistryError(f"{response.url.host}: tag list links to another host "
                            f"{target.netloc}", "not followed, credentials stay with the registry")
    return f"{target.path}?{target.query}" if target.query else target.path


def _tls_failure(err: BaseException) -> ssl.SSLError | None:
    """The ssl error underneath an httpx transport error, if that is what it was."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


@contextlib.contextmanager
def engine_cert_dir(ca_file: Path | None) -> Iterator[Path | None]:
    """``--ca-file`` as podman and buildah take a CA: a directory holding ``ca.crt`` (their
    ``--cert-dir``; the system's CAs stay trusted), for this run only; None without a CA file."""
    if ca_file is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="dockyard-ca-") as directory:
        shutil.copyfile(ca_file, Path(directory) / "ca.crt")
        yield Path(directory)


def check_ca_file(path: Path) -> Path:
    """``--ca-file``: a readable PEM file with at least one CA certificate, else a one-line
    error naming it (the path may be anywhere; it is read, never written)."""

    problem = ""
    if not path.is_file():
        problem = "is not a file"
    else:
        try:
            ssl.create_default_context().load_verify_locations(cafile=str(path))
        except (ssl.SSLError, OSError, ValueError) as err:
            problem = f"holds no usable PEM certificate ({type(err).__name__})"
    if problem:
        raise DockyardError(f"{path} {problem}", "give the PEM CA certificate of the registry",
                            field="ca-file")
    return path.resolve()
