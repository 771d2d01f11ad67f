"""Registry HTTP API v2 client: what is really published, read (and re-tagged) over plain HTTP.

Built on httpx (keep-alive, timeouts, TLS) with the parts a release needs and nothing more:
the 401 challenge (Bearer token or Basic), manifests fetched with every Accept type (without
them the reference registry answers 404 for an OCI index), digests checked against the bytes,
paginated tag lists, and bounded retries so a flaky registry does not fail a release half-way.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import httpx

from core.errors import CredentialError, RegistryError

if TYPE_CHECKING:
    from core.reference import ImageName

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHALLENGE_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_MAX_BLOB = 8 * 1024 * 1024  # image configs are kilobytes; a layer digest here is a mistake


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


class RegistryClient:
    """One registry host. Not for concurrent use from several threads (one worker at a time).

    https first, always. Loopback hosts (a local test registry) and hosts marked ``insecure``
    fall back to plain http when the server does not speak TLS at all, as docker does; a
    certificate that fails verification never falls back. ``insecure`` also skips certificate
    verification. ``request_count`` counts every HTTP request sent, retries and token requests
    included (the failed TLS probe of a plain-http registry is not an HTTP request).
    """

    def __init__(
        self,
        host: str,
        *,
        username: str | None = None,
        secret: str | None = None,
        insecure: bool = False,
        ca_file: Path | None = None,
        timeout: float = 30,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not host or "/" in host:
            raise RegistryError(f"{host!r} is not a registry host", "use HOST or HOST:PORT")
        self.host = host
        self.username = username
        self._secret = secret
        self.insecure = insecure
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self.request_count = 0
        self._host_only = urlsplit(f"//{host}").hostname or host
        self._scheme = "https"
        self._may_fall_back = (insecure or is_loopback(host)) and ca_file is None
        verify: ssl.SSLContext | bool
        if ca_file is not None:
            verify = ssl.create_default_context(cafile=str(ca_file))
        elif insecure:
            verify = False
        else:
            verify = True
        self._http = httpx.Client(
            transport=httpx.HTTPTransport(verify=verify, retries=0),
            timeout=timeout,
            follow_redirects=True,
            headers={"User-Agent": "dockyard"},
        )
        # What the registry asked for at its last 401: None (nothing yet), "basic" or "bearer".
        self._auth_scheme: str | None = None
        self._bearer: dict[str, str] = {}
        self._tokens: dict[str, tuple[str, float]] = {}

    def __repr__(self) -> str:
        return (f"RegistryClient(host={self.host!r}, username={self.username!r}, "
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

    def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> str:
        """PUT ``raw`` unchanged under ``ref``; the bytes are identical, so is the digest."""
        digest = sha256_digest(raw)
        response = self._request("PUT", f"/v2/{repo}/manifests/{ref}", repo=repo, push=True,
                                 headers={"Content-Type": media_type}, content=raw)
        self._raise_for(repo, f"PUT manifest {ref}", response)
        claimed = response.headers.get("Docker-Content-Digest")
        if claimed is not None and claimed != digest:
            raise RegistryError(f"{self.host}/{repo}: PUT {ref} stored digest {claimed}, "
                                f"sent {digest}", "the registry rewrote the manifest")
        return digest

    def blob_exists(self, repo: str, digest: str) -> bool:
        """HEAD the blob: is it already in ``repo``?"""
        response = self._request("HEAD", f"/v2/{repo}/blobs/{digest}", repo=repo, push=True)
        if response.status_code == 404:
            return False
        self._raise_for(repo, f"HEAD blob {digest}", response)
        return True

    def upload_blob(self, repo: str, digest: str, path: Path, size: int) -> None:
        """Upload the file at ``path`` as blob ``digest`` (skipped when the registry has it)."""
        if self.blob_exists(repo, digest):
            return
        response = self._request("POST", f"/v2/{repo}/blobs/uploads/", repo=repo, push=True)
        self._raise_for(repo, "POST blob upload", response)
        location = response.headers.get("Location", "")
        target = httpx.URL(urljoin(self.base_url + "/", location))
        if target.host != self._host_only:
            raise RegistryError(f"{self.host}/{repo}: upload location on {target.host}",
                                "not followed, credentials stay with the registry")
        params = dict(target.params)
        params["digest"] = digest
        response = self._request("PUT", target.path, repo=repo, push=True, params=params,
                                 headers={"Content-Type": "application/octet-stream"},
                                 content=path.read_bytes())
        self._raise_for(repo, f"PUT blob {digest}", response)

    # ---- plumbing ---------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        repo: str | None,
        push: bool = False,
        authenticate: bool = True,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send with retries; on a 401 answer the challenge once and send again."""
        scope = f"repository:{repo}:{'pull,push' if push else 'pull'}" if repo else ""
        response = self._send(method, path, repo, headers, params, content, scope)
        if response.status_code == 401 and authenticate:
            self._remember_challenge(response)
            _, challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
            scope = challenge.get("scope", scope)
            if self._auth_scheme == "basic" and self._secret is None:
                return response
            if self._auth_scheme == "bearer":
                self._tokens.pop(scope, None)
            response = self._send(method, path, repo, headers, params, content, scope)
        return response

    def _send(
        self,
        method: str,
        path: str,
        repo: str | None,
        headers: dict[str, str] | None,
        params: dict[str, str] | None,
        content: bytes | None,
        scope: str,
    ) -> httpx.Response:
        merged = dict(headers or {})
        authorization = self._authorization(scope, repo)
        if authorization is not None:
            merged["Authorization"] = authorization
        url = urljoin(self.base_url, path)  # the scheme may have fallen back to http meanwhile
        request = self._http.build_request(method, url, headers=merged, params=params,
                                           content=content)
        return self._with_retries(request, repo)

    def _with_retries(self, request: httpx.Request, repo: str | None) -> httpx.Response:
        what = f"{request.method} {request.url.path}"
        attempt = 0
        while True:
            try:
                response = self._http.send(request)
            except httpx.TransportError as err:
                tls = _tls_failure(err)
                if tls is not None:
                    if (isinstance(tls, ssl.SSLCertVerificationError) or not self._may_fall_back
                            or request.url.host != self._host_only):
                        raise self._tls_error(repo, err) from None
                    # Loopback or marked insecure, and no TLS there: plain http, as docker does.
                    self._may_fall_back = False
                    self._scheme = "http"
                    request = self._http.build_request(
                        request.method, request.url.copy_with(scheme="http"),
                        headers=request.headers, content=request.content)
                    continue
                self.request_count += 1
                if attempt >= self.max_retries:
                    raise RegistryError(
                        f"{self._where(repo)}: {what} failed after {attempt + 1} attempts "
                        f"({type(err).__name__}: {err})",
                        "check the registry is reachable, then retry") from None
                delay = self.backoff * 2**attempt
            else:
                self.request_count += 1
                if response.status_code not in _RETRY_STATUS:
                    return response
                if attempt >= self.max_retries:
                    raise self._error(repo, f"{what} (after {attempt + 1} attempts)", response)
                delay = self._retry_after(response, self.backoff * 2**attempt)
                response.close()
            self._sleep(delay)
            attempt += 1

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
        realm_url = httpx.URL(realm)
        realm_host = realm_url.netloc.decode("ascii")
        if realm_url.scheme != "https" and not (self.insecure or is_loopback(realm_host)):
            raise RegistryError(f"{self.host}: token realm {realm} is not https",
                                f"pass --insecure-registry {self.host} to allow it")
        params = {"service": self._bearer["service"]} if self._bearer["service"] else {}
        if scope:
            params["scope"] = scope
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
        body = _json_object(response.content, f"{self.host}: token response")
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{self.host}: token response has no token",
                                "the token service answered without 'token'/'access_token'")
        lifetime = body.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) else 60.0
        expiry = time.monotonic() + max(seconds - 5, 1.0)
        self._tokens[scope] = (token, expiry)
        return token

    def _basic_header(self) -> str:
        pair = f"{self.username or ''}:{self._secret or ''}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def _raise_for(self, repo: str | None, what: str, response: httpx.Response) -> None:
        if response.status_code in (401, 403):
            raise self._denied(repo, response)
        if not 200 <= response.status_code < 300:
            raise self._error(repo, what, response)

    def _denied(self, repo: str | None, response: httpx.Response) -> CredentialError:
        who = f"user {self.username!r}" if self._secret is not None else "anonymous access"
        return CredentialError(
            f"{self._where(repo)}: {who} was refused (HTTP {response.status_code}"
            f"{_registry_message(response)})",
            "log in with a username and token allowed to access this repository")

    def _error(self, repo: str | None, what: str, response: httpx.Response,
               hint: str = "") -> RegistryError:
        return RegistryError(
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
    insecure_registries: Iterable[str] = (),
    ca_file: Path | None = None,
) -> RegistryClient:
    """A client for the registry of ``image``; insecure only if its domain was marked so."""
    marked = set(insecure_registries)
    insecure = image.domain in marked or image.api_host in marked
    return RegistryClient(image.api_host, username=username, secret=secret, insecure=insecure,
                          ca_file=ca_file)


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


def check_ca_file(path: Path) -> Path:
    """``--ca-file``: a readable PEM file with at least one CA certificate, else a one-line
    error naming it (the path may be anywhere; it is read, never written)."""
    from core.errors import DockyardError

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
