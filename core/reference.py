"""Image references and registry names, Docker Hub's spellings included, in one place.

``split_reference`` is the grammar alone (distribution's ``reference.Parse``);
``parse_reference`` and ``parse_image_name`` add Docker's normalisation (``alpine`` is
``docker.io/library/alpine``) so that what dockyard pushes, verifies and shows is always the full
name. dockyard accepts sha256 and sha512 digests (both are registered in the OCI image spec).

Docker Hub has three host names, and two questions get different answers:

* an image *name* folds only ``index.docker.io`` into ``docker.io`` (distribution's
  ``ParseNormalizedNamed``, pinned by ../shared/vectors): ``registry-1.docker.io/acme/app`` stays
  as written, as docker shows it, and gets no ``library/`` prefix;
* a *registry* (whose login, which API host, which config.json key) folds all three into
  ``docker.io`` (``canonical_registry``): ``registry-1.docker.io`` is Hub's API host, and BuildKit
  looks its login up under Hub's config key, so one login serves every spelling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import ImageRefError, RegistryError
from core.tags import TAG_PATTERN, validate_tag

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_PATH = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE_RE = re.compile(rf"^((?:{_DOMAIN}/)?{_PATH})(?::({TAG_PATTERN}))?(?:@({_DIGEST}))?$")
_NAME_RE = re.compile(rf"^(?:({_DOMAIN})/)?({_PATH})$")
_DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")
_PORT_RE = re.compile(r":([0-9]+)$")
_IDENTIFIER_RE = re.compile(r"^[a-f0-9]{64}$")
_DIGEST_HEX = {"sha256": 64, "sha512": 128}

DOCKER_HUB = "docker.io"
_DOCKER_HUB_LEGACY = "index.docker.io"
_DOCKER_HUB_API = "registry-1.docker.io"
_DOCKER_HUB_HOSTS = frozenset({DOCKER_HUB, _DOCKER_HUB_LEGACY, _DOCKER_HUB_API})
#: The ``auths`` key docker and BuildKit keep Docker Hub's login under (a historic URL).
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
_OFFICIAL_PREFIX = "library/"
MAX_PATH = 255

_GRAMMAR = (
    "write [registry[:port]/]namespace/name in lowercase letters and digits separated by "
    "'.', '_', '__' or '-', e.g. ghcr.io/acme/app"
)


@dataclass(frozen=True)
class ImageName:
    """A repository: registry host (with port) and path, without tag or digest."""

    domain: str
    path: str

    def __str__(self) -> str:
        return f"{self.domain}/{self.path}"

    @property
    def api_host(self) -> str:
        """The host serving the Registry API (Docker Hub's name and API host differ)."""
        return _DOCKER_HUB_API if self.domain == DOCKER_HUB else self.domain

    @property
    def registry(self) -> str:
        """The registry as logins are keyed (``canonical_registry`` of the domain)."""
        return canonical_registry(self.domain)

    @property
    def familiar(self) -> str:
        """The short form Docker shows (``alpine``, ``acme/app``); full name elsewhere."""
        if self.domain != DOCKER_HUB:
            return str(self)
        rest = self.path.removeprefix(_OFFICIAL_PREFIX)
        return self.path if "/" in rest else rest

    def with_tag(self, tag: str) -> str:
        """``name:tag``, refusing a tag the registry would reject."""
        return f"{self}:{validate_tag(tag)}"


@dataclass(frozen=True)
class Reference:
    """A normalised name with an optional tag and digest (for inspecting and browsing)."""

    name: ImageName
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        text = str(self.name)
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def split_reference(text: str) -> tuple[str, str, str | None, str | None]:
    """The grammar without normalisation: ``(domain, path, tag, digest)``; domain may be "".

    A first component counts as a domain whenever it fits the domain grammar, as in
    distribution's ``reference.Parse``; ``parse_reference`` applies Docker's stricter rule.
    """
    return _split(text, text)


def _split(text: str, shown: str) -> tuple[str, str, str | None, str | None]:
    """``split_reference`` naming ``shown`` (what the user typed) in its messages."""
    if not text:
        raise ImageRefError("image reference is empty", "give e.g. ghcr.io/acme/app")
    match = _REFERENCE_RE.match(text)
    if match is None:
        lowered = _REFERENCE_RE.match(text.lower())
        if lowered is not None:
            end = len(lowered.group(1))
            raise ImageRefError(
                f"{shown!r} must be lowercase", f"e.g. {text[:end].lower()}{text[end:]}"
            )
        raise ImageRefError(f"{shown!r} is not a valid image reference", _hint(shown))
    name, tag, digest = match.groups()
    name_match = _NAME_RE.match(name)
    assert name_match is not None  # the same sub-pattern matched just above
    domain, path = name_match.group(1) or "", name_match.group(2)
    if len(path) > MAX_PATH:
        raise ImageRefError(
            f"the repository path in {_short(shown)!r} is {len(path)} characters long",
            f"at most {MAX_PATH} characters after the registry",
        )
    if digest is not None:
        _check_digest(digest)
    return domain, path, tag, digest


def _hint(text: str) -> str:
    if "://" in text:
        return "drop the scheme, e.g. " + text.split("://", 1)[1]
    return _GRAMMAR


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _check_digest(digest: str) -> None:
    algorithm, _, hex_part = digest.partition(":")
    expected = _DIGEST_HEX.get(algorithm)
    if expected is None:
        raise ImageRefError(
            f"digest algorithm {algorithm!r} is not supported",
            "use sha256:<64 hex> or sha512:<128 hex>",
        )
    if len(hex_part) != expected:
        raise ImageRefError(
            f"the {algorithm} digest has {len(hex_part)} hex characters",
            f"a {algorithm} digest has exactly {expected}",
        )
    if hex_part != hex_part.lower():
        raise ImageRefError(f"the {algorithm} digest is not lowercase", "write hex in lowercase")


def _split_docker_domain(text: str) -> tuple[str, str, bool]:
    """Docker's rule: the first component is a registry only if it has '.' or ':', is
    ``localhost`` or has uppercase letters; otherwise the name lives on Docker Hub.

    Returns ``(domain, remainder, explicit)``; ``explicit`` says the text named the registry.
    """
    first, slash, rest = text.partition("/")
    is_domain = bool(slash) and (
        "." in first or ":" in first or first == "localhost" or first.lower() != first
    )
    domain, remainder = (first, rest) if is_domain else (DOCKER_HUB, text)
    if domain == _DOCKER_HUB_LEGACY:
        domain = DOCKER_HUB
    if domain == DOCKER_HUB and "/" not in remainder:
        remainder = _OFFICIAL_PREFIX + remainder
    return domain, remainder, is_domain


def parse_reference(text: str) -> Reference:
    """Parse and normalise ``[registry/]name[:tag][@digest]``."""
    text = text.strip()
    if _IDENTIFIER_RE.match(text):
        raise ImageRefError(
            f"{_short(text)!r} is an image ID (64 hex characters), not a repository name",
            "give a name such as ghcr.io/acme/app",
        )
    domain, remainder, explicit = _split_docker_domain(text)
    remote = re.split(r"[:@]", remainder, maxsplit=1)[0]
    if remote != remote.lower():
        registry = text.partition("/")[0] + "/" if explicit else ""
        written = text[len(registry) :]
        name_end = len(re.split(r"[:@]", written, maxsplit=1)[0])
        # Host names ignore case, and "Acme/App" is a Docker Hub name that only looks like a
        # registry because of its capitals: the suggestion is lowercase throughout.
        raise ImageRefError(
            f"{text!r} must be lowercase",
            f"e.g. {registry.lower()}{written[:name_end].lower()}{written[name_end:]}",
        )
    if not text:
        raise ImageRefError("image reference is empty", "give e.g. ghcr.io/acme/app")
    try:
        found_domain, path, tag, digest = _split(f"{domain}/{remainder}", text)
    except ImageRefError:
        if explicit and "://" not in text:
            check_registry_host(domain, shown=text)  # the more precise message, when it applies
        raise
    if explicit:
        check_registry_host(domain, shown=text)
    return Reference(ImageName(found_domain, path), tag, digest)


def check_registry_host(host: str, *, shown: str | None = None) -> str:
    """``host[:port]`` as the reference grammar writes a registry, with a port of 1-65535.

    Docker takes a first component with '.' or ':' as the registry, but the grammar's host is a
    DNS name (no '_') or an IP address: ``my_registry.example.com/acme/app`` would otherwise parse
    as a Docker Hub-less path with an empty registry.
    """
    where = f" in {_short(shown)!r}" if shown is not None and shown != host else ""
    if not _DOMAIN_RE.match(host):
        problem = f"registry host {_short(host)!r}{where} is not a valid host name"
        if "_" in host:
            problem += " ('_' is not allowed in DNS names)"
        raise ImageRefError(
            problem,
            "use letters, digits, '-' and '.' (or an IP address) with an optional :PORT, "
            "e.g. registry.example.com:5000",
        )
    port = _PORT_RE.search(host)
    if port is not None and (len(port.group(1)) > 5 or not 1 <= int(port.group(1)) <= 65535):
        raise ImageRefError(
            f"registry port {_short(port.group(1))}{where} is out of range",
            "use a port from 1 to 65535",
        )
    return host


def parse_image_name(text: str) -> ImageName:
    """Parse and normalise a repository name; a tag or digest is refused (dockyard makes tags)."""
    text = text.strip()
    reference = parse_reference(text)
    if reference.tag is None and reference.digest is None:
        return reference.name
    base = text
    if reference.digest is not None:
        base = base[: -len(reference.digest) - 1]
    if reference.tag is not None:
        base = base[: -len(reference.tag) - 1]
    if "/" not in text and reference.tag is not None and reference.tag.isdigit():
        raise ImageRefError(
            f"{text!r} looks like a registry address without a repository",
            f"add the repository path, e.g. {text}/acme/app",
        )
    what = {
        (True, False): "a tag",
        (False, True): "a digest",
        (True, True): "a tag and a digest",
    }[(reference.tag is not None, reference.digest is not None)]
    raise ImageRefError(
        f"{text!r} has {what}",
        f"give the name only (dockyard computes the tags), e.g. {base}",
    )


def canonical_registry(host: str) -> str:
    """One name per registry, for logins: host[:port] lowercased (host names ignore case), a
    scheme or path dropped (docker's config keys are URLs), Docker Hub's three hosts folded."""
    text = host.strip().lower()
    for scheme in ("https://", "http://"):
        text = text.removeprefix(scheme)
    text = text.split("/", 1)[0]
    if not text:
        raise RegistryError("no registry host given", "a host such as ghcr.io or 127.0.0.1:5000")
    try:
        check_registry_host(text)
    except ImageRefError:
        raise RegistryError(
            f"{host.strip()!r} is not a registry host",
            "a host[:port] such as ghcr.io, docker.io or 127.0.0.1:5000",
        ) from None
    return DOCKER_HUB if text in _DOCKER_HUB_HOSTS else text


def api_host(registry: str) -> str:
    """The host that serves the Registry HTTP API v2 for ``registry``."""
    canonical = canonical_registry(registry)
    return _DOCKER_HUB_API if canonical == DOCKER_HUB else canonical


def auth_key(registry: str) -> str:
    """The ``auths`` key docker expects: Docker Hub keeps its historic URL."""
    canonical = canonical_registry(registry)
    return DOCKER_HUB_AUTH_KEY if canonical == DOCKER_HUB else canonical
