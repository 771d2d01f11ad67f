"""Reading an image from a registry: the index, its platform manifests, and their configs.

Verification (core/verify.py), the browser and ``dockyard inspect`` (core/inspect.py) and the
summary's sizes all walk the same way, so the walk and the index rules live here once: which
index entries are runnable images and which are attestations (BuildKit provenance/SBOM, never a
platform), what a config says its platform is, what a platform image weighs. It reads only, and
no more than asked: verification reads the platforms it expects and nothing else.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.platforms import Platform, is_attestation, normalize_platform
from core.registry import IMAGE_TYPES, INDEX_TYPES

if TYPE_CHECKING:
    from core.registry import Manifest, RegistryClient

REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"
ATTESTATION = "attestation-manifest"


@dataclass(frozen=True)
class Attestation:
    """An index entry that is not a runnable image (provenance, SBOM, ...)."""

    digest: str
    refers_to: str | None  # the platform manifest it describes
    kind: str  # the reference type annotation, "attestation-manifest" when only unknown/unknown

    def to_dict(self) -> dict[str, Any]:
        return {"digest": self.digest, "refers_to": self.refers_to, "kind": self.kind}


@dataclass(frozen=True)
class IndexEntry:
    """A runnable image in an index: its platform as listed (normalised) and manifest digest."""

    platform: Platform
    digest: str
    media_type: str


@dataclass(frozen=True)
class IndexSummary:
    """An index split into runnable platform entries and attestation entries."""

    entries: tuple[IndexEntry, ...]
    attestations: tuple[Attestation, ...]
    problems: tuple[str, ...]

    @property
    def platforms(self) -> tuple[Platform, ...]:
        return tuple(entry.platform for entry in self.entries)


def summarize_index(index: Mapping[str, Any]) -> IndexSummary:
    """Split an OCI index / Docker manifest list; problems for entries that make no sense."""
    entries: list[IndexEntry] = []
    attestations: list[Attestation] = []
    problems: list[str] = []
    seen: dict[Platform, str] = {}
    for item in index.get("manifests") or ():
        digest = str(item.get("digest", ""))
        annotations = item.get("annotations") or {}
        listed = item.get("platform") or {}
        os, arch = str(listed.get("os", "")), str(listed.get("architecture", ""))
        kind = annotations.get(REFERENCE_TYPE)
        if kind is not None or is_attestation(os, arch):
            attestations.append(Attestation(digest, annotations.get(REFERENCE_DIGEST),
                                            str(kind or ATTESTATION)))
            continue
        if not os or not arch:
            problems.append(f"index entry {digest} has no platform")
            continue
        platform = normalize_platform(os, arch, str(listed.get("variant", "")))
        if platform in seen:
            problems.append(f"{platform} is listed twice ({seen[platform]} and {digest})")
            continue
        seen[platform] = digest
        entries.append(IndexEntry(platform, digest, str(item.get("mediaType", ""))))
    return IndexSummary(tuple(entries), tuple(attestations), tuple(problems))


def config_platform(config: Mapping[str, Any]) -> Platform | None:
    """The platform an image config declares, normalised; None when it declares none."""
    os, arch = config.get("os"), config.get("architecture")
    if not isinstance(os, str) or not isinstance(arch, str) or not os or not arch:
        return None
    return normalize_platform(os, arch, str(config.get("variant") or ""))


@dataclass(frozen=True)
class PlatformImage:
    """One platform's manifest and config, as far as the registry holds them."""

    digest: str
    media_type: str | None  # None: the registry has no manifest with this digest
    manifest: Mapping[str, Any]  # {} when missing
    config: Mapping[str, Any]  # {} when not read, or the manifest names none

    @property
    def found(self) -> bool:
        return self.media_type is not None

    @property
    def is_image(self) -> bool:
        return self.media_type in IMAGE_TYPES

    @property
    def declared(self) -> Platform | None:
        """The platform its config declares (None when the config was not read)."""
        return config_platform(self.config)

    @property
    def size(self) -> int:
        """Config plus layers, compressed: what a pull of this platform downloads."""
        parts = [self.manifest.get("config") or {}, *(self.manifest.get("layers") or [])]
        return sum(int(part.get("size", 0)) for part in parts)

    @property
    def created(self) -> str | None:
        created = self.config.get("created")
        return created if isinstance(created, str) else None


@dataclass(frozen=True)
class Image:
    """What a tag or digest names: an index and the platform images read from it, or a single
    image manifest (``index`` None, one platform image), or something else (no platforms)."""

    digest: str
    media_type: str
    index: IndexSummary | None
    platforms: tuple[PlatformImage, ...]

    @property
    def is_image(self) -> bool:
        return self.media_type in IMAGE_TYPES


def read_image(client: RegistryClient, repo: str, ref: str, *,
               only: Collection[Platform] | None = None) -> Image:
    """The image at ``ref`` (RegistryError when missing): with an index, each entry's manifest
    and config in index order, or only the entries listed as one of ``only``."""
    return _walk(client, repo, client.get_manifest(repo, ref), only)


def find_image(client: RegistryClient, repo: str, ref: str, *,
               only: Collection[Platform] | None = None) -> Image | None:
    """``read_image``, but None when the registry has nothing at ``ref``."""
    manifest = client.find_manifest(repo, ref)
    return None if manifest is None else _walk(client, repo, manifest, only)


def read_platform(client: RegistryClient, repo: str, digest: str, *,
                  config: bool = True) -> PlatformImage:
    """One platform image by digest; its config too unless ``config`` is False (a size needs
    the manifest alone)."""
    manifest = client.find_manifest(repo, digest)
    if manifest is None:
        return PlatformImage(digest, None, {}, {})
    return _platform(client, repo, manifest, config)


def _walk(client: RegistryClient, repo: str, manifest: Manifest,
          only: Collection[Platform] | None) -> Image:
    if manifest.media_type in INDEX_TYPES:
        summary = summarize_index(manifest.json)
        wanted = [e for e in summary.entries if only is None or e.platform in only]
        platforms = tuple(read_platform(client, repo, e.digest) for e in wanted)
        return Image(manifest.digest, manifest.media_type, summary, platforms)
    if manifest.media_type in IMAGE_TYPES:
        single = _platform(client, repo, manifest, True)
        return Image(manifest.digest, manifest.media_type, None, (single,))
    return Image(manifest.digest, manifest.media_type, None, ())


def _platform(client: RegistryClient, repo: str, manifest: Manifest,
              config: bool) -> PlatformImage:
    body = manifest.json
    blob: Mapping[str, Any] = {}
    digest = (body.get("config") or {}).get("digest")
    if config and manifest.media_type in IMAGE_TYPES and isinstance(digest, str):
        blob = client.get_blob_json(repo, digest)
    return PlatformImage(manifest.digest, manifest.media_type, body, blob)


class Reads:
    """Each manifest and config read at most once, by digest, and counted: history and diff
    read many images that share platforms and configs, and on Docker Hub every GET is a pull."""

    def __init__(self, client: RegistryClient, repo: str) -> None:
        self.client, self.repo = client, repo
        self.manifests: dict[str, Manifest | None] = {}
        self.configs: dict[str, Mapping[str, Any]] = {}
        self.count = {"head": 0, "get": 0}

    def head(self, tag: str) -> str | None:
        """The digest ``tag`` names now; None when it names nothing."""
        self.count["head"] += 1
        head = self.client.head_manifest(self.repo, tag)
        return head.digest if head else None

    def manifest(self, digest: str) -> Manifest | None:
        if digest not in self.manifests:
            self.count["get"] += 1
            self.manifests[digest] = self.client.find_manifest(self.repo, digest)
        return self.manifests[digest]

    def config(self, digest: str) -> Mapping[str, Any]:
        if digest not in self.configs:
            self.count["get"] += 1
            self.configs[digest] = self.client.get_blob_json(self.repo, digest)
        return self.configs[digest]
