"""Does what is in the registry match the plan? Checked before any alias moves, and after.

The version tag must resolve to an index whose platforms, normalised, are exactly the chosen
ones; attestation entries (BuildKit provenance/SBOM) are reported apart and never count as a
platform; every platform manifest's config must say the same os/arch/variant; every alias must
resolve to the version tag's digest. Requests are kept few: one GET of the index, one GET of
each platform manifest and of its config, then one HEAD per alias (a HEAD does not count
against Docker Hub's pull limit).

A single image manifest (not an index) passes only when exactly one platform was chosen and its
config names that platform: a one-platform podman push produces exactly that. The reading is
core/image.py's walk, asked for the expected platforms only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import DockyardError
from core.image import Attestation, IndexEntry, PlatformImage, find_image
from core.platforms import Platform, normalize_platform, parse_platform
from core.registry import RegistryClient

if TYPE_CHECKING:
    from core.reference import ImageName

@dataclass(frozen=True)
class PlatformResult:
    """One cell of the tag x platform table."""

    platform: str  # as selected, "linux/arm64"; or as found, for an unexpected one
    digest: str | None  # the platform manifest's digest, None when missing from the index
    config: str | None  # the platform the manifest's config declares, normalised
    ok: bool
    problem: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "digest": self.digest, "config": self.config,
                "ok": self.ok, "problem": self.problem}


@dataclass(frozen=True)
class TagResult:
    """One tag: what it resolves to, and for the version tag its platforms."""

    tag: str
    role: str  # "version" or "alias"
    digest: str | None  # None when the tag does not exist
    media_type: str | None
    ok: bool
    problem: str = ""
    platforms: tuple[PlatformResult, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "role": self.role, "digest": self.digest,
                "media_type": self.media_type, "ok": self.ok, "problem": self.problem,
                "platforms": [p.to_dict() for p in self.platforms]}


@dataclass(frozen=True)
class VerifyReport:
    """Tag x platform outcome of one verification; ``problems`` are one-line sentences."""

    image: str  # "127.0.0.1:5000/acme/app"
    version_tag: str
    digest: str | None  # the version tag's digest
    media_type: str | None
    expected: tuple[str, ...]  # selected platforms, normalised
    tags: tuple[TagResult, ...]  # the version tag first, then the aliases in the order given
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    attestations: tuple[Attestation, ...] = ()
    problems: tuple[str, ...] = ()
    requests: int = 0  # HTTP requests this verification sent
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image, "ok": self.ok, "version_tag": self.version_tag,
            "digest": self.digest, "media_type": self.media_type,
            "expected": list(self.expected), "missing": list(self.missing),
            "unexpected": list(self.unexpected),
            "attestations": [a.to_dict() for a in self.attestations],
            "tags": [t.to_dict() for t in self.tags],
            "problems": list(self.problems), "notes": list(self.notes),
            "requests": self.requests,
        }


def verify_release(
    client: RegistryClient,
    image: ImageName,
    version_tag: str,
    platforms: Iterable[Platform | str],
    aliases: Iterable[str] = (),
) -> VerifyReport:
    """Check ``image:version_tag`` against the selected platforms, then each alias's digest.

    Registry trouble (unreachable, refused, corrupt bytes) raises; a registry that answers but
    holds the wrong thing gives a report with ``ok`` False.
    """
    start = client.request_count
    expected = _expected(platforms)
    repo = image.path
    name = str(image)
    problems: list[str] = []
    version = _verify_version(client, repo, name, version_tag, expected, problems)
    tags = [version.result]
    for alias in aliases:
        tags.append(_verify_alias(client, repo, name, alias, version.result.digest, problems))
    return VerifyReport(
        image=name, version_tag=version_tag, digest=version.result.digest,
        media_type=version.result.media_type, expected=tuple(str(p) for p in expected),
        tags=tuple(tags), missing=version.missing, unexpected=version.unexpected,
        attestations=version.attestations, problems=tuple(problems),
        requests=client.request_count - start, notes=version.notes,
    )


@dataclass(frozen=True)
class _VersionOutcome:
    result: TagResult
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    attestations: tuple[Attestation, ...] = ()
    notes: tuple[str, ...] = ()


def _expected(platforms: Iterable[Platform | str]) -> tuple[Platform, ...]:
    chosen: list[Platform] = []
    for item in platforms:
        platform = parse_platform(item) if isinstance(item, str) else item
        platform = normalize_platform(platform.os, platform.arch, platform.variant)
        if platform not in chosen:
            chosen.append(platform)
    if not chosen:
        raise DockyardError("no platforms to verify against", "select at least one platform",
                            field="verify")
    return tuple(chosen)


def _verify_version(
    client: RegistryClient, repo: str, name: str, tag: str,
    expected: tuple[Platform, ...], problems: list[str],
) -> _VersionOutcome:
    image = find_image(client, repo, tag, only=expected)
    if image is None:
        problems.append(f"{_ref(name, tag)} does not exist in the registry")
        return _VersionOutcome(TagResult(tag, "version", None, None, False, "not found"))
    if image.is_image:
        return _verify_single(name, tag, image.digest, image.media_type, image.platforms[0],
                              expected, problems)
    if image.index is None:
        problem = f"{_ref(name, tag)} has media type {image.media_type}, not an image index"
        problems.append(problem)
        return _VersionOutcome(TagResult(tag, "version", image.digest, image.media_type,
                                         False, problem))
    summary = image.index
    problems.extend(f"{_ref(name, tag)}: {p}" for p in summary.problems)
    found = {entry.platform: entry for entry in summary.entries}
    read = {child.digest: child for child in image.platforms}
    cells: list[PlatformResult] = []
    for platform in expected:
        entry = found.get(platform)
        if entry is None:
            problem = f"{_ref(name, tag)} has no {platform} image"
            problems.append(problem)
            cells.append(PlatformResult(str(platform), None, None, False, "missing"))
            continue
        cells.append(_check_platform(name, tag, entry, read[entry.digest], problems))
    unexpected = [entry for entry in summary.entries if entry.platform not in expected]
    for entry in unexpected:
        problems.append(f"{_ref(name, tag)} has an unexpected {entry.platform} image "
                        f"({entry.digest})")
        cells.append(PlatformResult(str(entry.platform), entry.digest, None, False, "unexpected"))
    cell_ok = all(cell.ok for cell in cells) and not summary.problems
    return _VersionOutcome(
        TagResult(tag, "version", image.digest, image.media_type, cell_ok,
                  "" if cell_ok else "platforms do not match", tuple(cells)),
        missing=tuple(str(p) for p in expected if p not in found),
        unexpected=tuple(str(e.platform) for e in unexpected),
        attestations=summary.attestations,
    )


def _check_platform(
    name: str, tag: str, entry: IndexEntry, child: PlatformImage, problems: list[str],
) -> PlatformResult:
    if not child.found:
        problem = f"{_ref(name, tag)} {entry.platform} entry points at a missing manifest"
        problems.append(problem)
        return PlatformResult(str(entry.platform), entry.digest, None, False, problem)
    if not child.is_image:
        problem = f"{_ref(name, tag)} {entry.platform} entry is {child.media_type}, not an image"
        problems.append(problem)
        return PlatformResult(str(entry.platform), entry.digest, None, False, problem)
    declared = child.declared
    if declared != entry.platform:
        problem = (f"{_ref(name, tag)} {entry.platform} image's config says "
                   f"{declared or 'no platform'}")
        problems.append(problem)
        return PlatformResult(str(entry.platform), entry.digest,
                              str(declared) if declared else None, False, problem)
    return PlatformResult(str(entry.platform), entry.digest, str(declared), True)


def _verify_single(
    name: str, tag: str, digest: str, media_type: str, image: PlatformImage,
    expected: tuple[Platform, ...], problems: list[str],
) -> _VersionOutcome:
    declared = image.declared
    found = str(declared) if declared else None
    if len(expected) > 1:
        problem = (f"{_ref(name, tag)} is a single-platform image ({found or 'no platform'}), "
                   f"not an index of {len(expected)} platforms")
    elif declared != expected[0]:
        problem = f"{_ref(name, tag)} is a {found or 'platform-less'} image, not {expected[0]}"
    else:
        problem = ""
    if problem:
        problems.append(problem)
    cells = tuple(
        PlatformResult(str(p), digest, found, not problem, problem) if p == declared
        else PlatformResult(str(p), None, None, False, "missing")
        for p in expected)
    return _VersionOutcome(
        TagResult(tag, "version", digest, media_type, not problem, problem, cells),
        missing=tuple(str(p) for p in expected if p != declared),
        unexpected=(found,) if found and declared not in expected else (),
        notes=(f"{_ref(name, tag)} is a single image manifest, not an index",),
    )


def _verify_alias(
    client: RegistryClient, repo: str, name: str, alias: str, digest: str | None,
    problems: list[str],
) -> TagResult:
    head = client.head_manifest(repo, alias)
    if head is None:
        problem = f"{name}:{alias} does not exist in the registry"
    elif digest is not None and head.digest != digest:
        problem = f"{name}:{alias} points at {head.digest}, not the version tag's {digest}"
    elif digest is None:
        problem = f"{name}:{alias} cannot be compared: the version tag is missing"
    else:
        problem = ""
    if problem:
        problems.append(problem)
    return TagResult(alias, "alias", head.digest if head else None,
                     head.media_type if head else None, not problem, problem)


def _ref(name: str, tag: str) -> str:
    """``name:tag``, or ``name@sha256:...`` when a digest is verified before it has a tag."""
    return f"{name}@{tag}" if tag.startswith("sha256:") else f"{name}:{tag}"
