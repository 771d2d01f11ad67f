"""What a registry holds for a tag: digest, platforms, attestations, sizes, creation times.

Shared by the registry browser and ``dockyard inspect``; the reading is core/image.py's walk.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.errors import DockyardError
from core.image import Attestation, PlatformImage, read_image
from core.registry import RegistryClient
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
    image = read_image(client, repo, tag)
    if image.index is not None:
        read = list(zip(image.index.entries, image.platforms, strict=True))  # every entry
        platforms = tuple(_details(child, str(entry.platform)) for entry, child in read)
        problems = [*image.index.problems, *(f"{entry.platform} entry points at a missing "
                                             "manifest" for entry, child in read
                                             if not child.found)]
        return TagDetails(tag, image.digest, image.media_type, platforms,
                          image.index.attestations, "; ".join(problems))
    if image.is_image:
        return TagDetails(tag, image.digest, image.media_type, (_details(image.platforms[0], ""),))
    return TagDetails(tag, image.digest, image.media_type,
                      problem=f"not an image ({image.media_type or 'no media type'})")


def _details(image: PlatformImage, listed: str) -> PlatformDetails:
    declared = image.declared
    return PlatformDetails(
        platform=str(declared) if declared else (listed or "unknown"),
        digest=image.digest,
        size=image.size,
        created=image.created,
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
