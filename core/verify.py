"""Does what is in the registry match the plan? Checked before any alias moves, and after.

The version tag must resolve to an index whose platforms, normalised, are exactly the chosen
ones; attestation entries (BuildKit provenance/SBOM) are reported apart and never count as a
platform; every platform manifest's config must say the same os/arch/variant; every alias must
resolve to the version tag's digest. Requests are kept few: one GET of the index, one GET of
each platform manifest and of its config, then one HEAD per alias (a HEAD does not count
against Docker Hub's pull limit).

A single image manifest (not an index) passes only when exactly one platform was chosen and its
config names that platform: a one-platform podman push produces exactly that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import DockyardError
from core.platforms import Platform, is_attestation, normalize_platform, parse_platform
from core.registry import IMAGE_TYPES, INDEX_TYPES, RegistryClient

if TYPE_CHECKING:
    from core.reference import ImageName

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
    manifest = client.find_manifest(repo, tag)
    if manifest is None:
        problems.append(f"{_ref(name, tag)} does not exist in the registry")
        return _VersionOutcome(TagResult(tag, "version", None, None, False, "not found"))
    if manifest.media_type in IMAGE_TYPES:
        return _verify_single(client, repo, name, tag, manifest.digest, manifest.media_type,
                              manifest.json, expected, problems)
    if manifest.media_type not in INDEX_TYPES:
        problem = f"{_ref(name, tag)} has media type {manifest.media_type}, not an image index"
        problems.append(problem)
        return _VersionOutcome(TagResult(tag, "version", manifest.digest, manifest.media_type,
                                         False, problem))
    summary = summarize_index(manifest.json)
    problems.extend(f"{_ref(name, tag)}: {p}" for p in summary.problems)
    found = {entry.platform: entry for entry in summary.entries}
    cells: list[PlatformResult] = []
    for platform in expected:
        entry = found.get(platform)
        if entry is None:
            problem = f"{_ref(name, tag)} has no {platform} image"
            problems.append(problem)
            cells.append(PlatformResult(str(platform), None, None, False, "missing"))
            continue
        cells.append(_check_platform(client, repo, name, tag, entry, problems))
    unexpected = [entry for entry in summary.entries if entry.platform not in expected]
    for entry in unexpected:
        problems.append(f"{_ref(name, tag)} has an unexpected {entry.platform} image "
                        f"({entry.digest})")
        cells.append(PlatformResult(str(entry.platform), entry.digest, None, False, "unexpected"))
    cell_ok = all(cell.ok for cell in cells) and not summary.problems
    return _VersionOutcome(
        TagResult(tag, "version", manifest.digest, manifest.media_type, cell_ok,
                  "" if cell_ok else "platforms do not match", tuple(cells)),
        missing=tuple(str(p) for p in expected if p not in found),
        unexpected=tuple(str(e.platform) for e in unexpected),
        attestations=summary.attestations,
    )


def _check_platform(
    client: RegistryClient, repo: str, name: str, tag: str, entry: IndexEntry,
    problems: list[str],
) -> PlatformResult:
    child = client.find_manifest(repo, entry.digest)
    if child is None:
        problem = f"{_ref(name, tag)} {entry.platform} entry points at a missing manifest"
        problems.append(problem)
        return PlatformResult(str(entry.platform), entry.digest, None, False, problem)
    if child.media_type not in IMAGE_TYPES:
        problem = f"{_ref(name, tag)} {entry.platform} entry is {child.media_type}, not an image"
        problems.append(problem)
        return PlatformResult(str(entry.platform), entry.digest, None, False, problem)
    declared = _declared(client, repo, child.json)
    if declared != entry.platform:
        problem = (f"{_ref(name, tag)} {entry.platform} image's config says "
                   f"{declared or 'no platform'}")
        problems.append(problem)
        return PlatformResult(str(entry.platform), entry.digest,
                              str(declared) if declared else None, False, problem)
    return PlatformResult(str(entry.platform), entry.digest, str(declared), True)


def _declared(client: RegistryClient, repo: str, manifest: Mapping[str, Any]) -> Platform | None:
    config = manifest.get("config") or {}
    digest = config.get("digest")
    if not isinstance(digest, str):
        return None
    return config_platform(client.get_blob_json(repo, digest))


def _verify_single(
    client: RegistryClient, repo: str, name: str, tag: str, digest: str, media_type: str,
    manifest: Mapping[str, Any], expected: tuple[Platform, ...], problems: list[str],
) -> _VersionOutcome:
    declared = _declared(client, repo, manifest)
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
