"""What a registry holds for a tag: digest, platforms, attestations, sizes, creation times.

Shared by the registry browser and ``dockyard inspect``; reads only (manifests and config blobs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.errors import DockyardError
from core.registry import IMAGE_TYPES, INDEX_TYPES, RegistryClient
from core.verify import Attestation, config_platform, summarize_index
from core.version import parse_version


@dataclass(frozen=True)
class PlatformDetails:
    platform: str  # as the image config declares it, else as the index lists it
    digest: str
    size: int  # config plus layers, compressed: what a pull of this platform downloads
    created: str | None  # the config's ``created``


@dataclass(frozen=True)
class TagDetails:
    tag: str
    digest: str = ""
    media_type: str = ""
    platforms: tuple[PlatformDetails, ...] = ()
    attestations: tuple[Attestation, ...] = ()
    problem: str = ""  # set when the tag could not be read, or its index has faults

    @property
    def size(self) -> int:
        return sum(p.size for p in self.platforms)

    @property
    def created(self) -> str | None:
        """The newest creation time of its platform images."""
        times = [p.created for p in self.platforms if p.created]
        return max(times) if times else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "media_type": self.media_type,
            "size": self.size,
            "created": self.created,
            "platforms": [dataclasses.asdict(platform) for platform in self.platforms],
            "attestations": [attestation.to_dict() for attestation in self.attestations],
            "problems": [self.problem] if self.problem else [],
        }

    def matches(self, needle: str) -> bool:
        haystack = [self.tag, self.digest, *(p.platform for p in self.platforms)]
        return any(needle in text.lower() for text in haystack)


def inspect_tag(client: RegistryClient, repo: str, tag: str) -> TagDetails:
    """Digest, platforms, attestations, sizes and creation times of one tag (or digest)."""
    manifest = client.get_manifest(repo, tag)
    if manifest.media_type in INDEX_TYPES:
        summary = summarize_index(manifest.json)
        platforms = tuple(
            _platform_details(client, repo, entry.digest, str(entry.platform))
            for entry in summary.entries
        )
        return TagDetails(tag, manifest.digest, manifest.media_type, platforms,
                          summary.attestations, "; ".join(summary.problems))
    if manifest.media_type in IMAGE_TYPES:
        single = _image_details(client, repo, manifest.digest, manifest.json, "")
        return TagDetails(tag, manifest.digest, manifest.media_type, (single,))
    return TagDetails(tag, manifest.digest, manifest.media_type,
                      problem=f"not an image ({manifest.media_type or 'no media type'})")


def _platform_details(client: RegistryClient, repo: str, digest: str, listed: str
                      ) -> PlatformDetails:
    child = client.get_manifest(repo, digest)
    return _image_details(client, repo, digest, child.json, listed)


def _image_details(client: RegistryClient, repo: str, digest: str, manifest: dict[str, Any],
                   listed: str) -> PlatformDetails:
    config_ref = manifest.get("config") or {}
    layers = manifest.get("layers") or []
    size = int(config_ref.get("size", 0)) + sum(int(layer.get("size", 0)) for layer in layers)
    config: dict[str, Any] = {}
    if isinstance(config_ref.get("digest"), str):
        config = client.get_blob_json(repo, config_ref["digest"])
    declared = config_platform(config)
    created = config.get("created")
    return PlatformDetails(
        platform=str(declared) if declared else (listed or "unknown"),
        digest=digest,
        size=size,
        created=created if isinstance(created, str) else None,
    )


def order_tags(tags: Iterable[str]) -> list[str]:
    """Named tags (latest, edge, ...) first, then versions newest first, like a changelog."""
    versions = []
    others = []
    for tag in set(tags):
        try:
            versions.append(parse_version(tag))
        except DockyardError:
            others.append(tag)
    return sorted(others) + [v.git_tag for v in sorted(versions, reverse=True)]
