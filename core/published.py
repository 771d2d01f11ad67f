"""What a registry already holds, read for the never-backwards rule.

A CI checkout is often shallow (``git clone --depth 1 --branch v1.0.1``) and two releases can
run at once, so the checkout's tags cannot tell whether a newer release exists. The registry
can: its version tags (immutable, so a version someone rolled back from still counts) and the
image each alias points at now. An image's version is the highest of its
``org.opencontainers.image.version`` label and the version tags that share its digest.

Any read that fails (refused, unreachable, an unknown media type) raises: an alias never moves
on a guess. Only "no version found" for an alias's image lets the alias move, and that is said.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.engines.base import VERSION_LABEL
from core.errors import DockyardError, RegistryError, VersionError
from core.image import summarize_index
from core.registry import IMAGE_TYPES, INDEX_TYPES
from core.tags import TagSet, hold_back, series_of
from core.version import ReleaseVersion, parse_version

if TYPE_CHECKING:
    from core.engines.base import ClientFactory
    from core.plan import Plan
    from core.registry import RegistryClient

IMAGE_CONFIG_TYPES = frozenset({"application/vnd.oci.image.config.v1+json",
                                "application/vnd.docker.container.image.v1+json"})
#: How many version tags newer than the release are HEADed to learn an alias's image version.
MAX_TAG_PROBES = 20


@dataclass(frozen=True)
class AliasNow:
    """Where one alias points before this run moves it."""

    alias: str
    digest: str | None  # None: the alias does not exist yet
    version: ReleaseVersion | None  # None: no version found for that image
    how: str = ""  # "label", "tag 1.1.0", or why no version was found


@dataclass(frozen=True)
class Published:
    """The registry's releases of one repository, and what each moving alias points at."""

    releases: tuple[ReleaseVersion, ...]  # release (not pre-release) version tags
    aliases: Mapping[str, AliasNow] = field(default_factory=dict)

    def newest(self) -> ReleaseVersion | None:
        return max(self.releases, default=None)


def version_of_tag(tag: str) -> ReleaseVersion | None:
    """The version a tag names when it is a strict SemVer version tag (``1.2.3``, ``v1.2.3``)."""
    with contextlib.suppress(VersionError):
        return parse_version(tag)
    return None


def read_published(
    client: RegistryClient, repo: str, version: ReleaseVersion, aliases: Iterable[str],
    known: Mapping[str, ReleaseVersion] | None = None,
) -> Published:
    """Read the version tags of ``repo`` and, for each moving alias, its image's version.

    Costs one tag listing, one HEAD per alias, and per distinct aliased image up to three GETs
    (index, manifest, config) plus HEADs of version tags newer than ``version`` (at most
    ``MAX_TAG_PROBES``) when the label does not already settle it. ``known`` maps digests
    whose version is known already (this run's own image) to it, saving their reads.
    """
    tags = client.list_tags(repo, missing_ok=True)
    versions = {tag: v for tag in tags if (v := version_of_tag(tag)) is not None}
    releases = tuple(sorted({v for v in versions.values() if not v.prerelease}))
    newer_tags = sorted((v, tag) for tag, v in versions.items()
                        if not v.prerelease and v.newer_than(version))
    newer_tags.reverse()
    found: dict[str, AliasNow] = {}
    by_digest: dict[str, tuple[ReleaseVersion | None, str]] = {
        digest: (known_version, "this release") for digest, known_version in (known or {}).items()}
    probes: dict[str, str | None] = {}
    for alias in aliases:
        if series_of(alias, version) is None:
            continue
        head = client.head_manifest(repo, alias)
        if head is None:
            found[alias] = AliasNow(alias, None, None, "absent")
            continue
        if head.digest not in by_digest:
            by_digest[head.digest] = _image_version(client, repo, head.digest, newer_tags, probes)
        image_version, how = by_digest[head.digest]
        found[alias] = AliasNow(alias, head.digest, image_version, how)
    return Published(releases, found)


def _image_version(
    client: RegistryClient, repo: str, digest: str,
    newer_tags: Sequence[tuple[ReleaseVersion, str]], probes: dict[str, str | None],
) -> tuple[ReleaseVersion | None, str]:
    """The highest of the image's version label and the newer version tags sharing its digest."""
    label = _label_version(client, repo, digest)
    best, how = (label, "label") if label is not None else (None, "no version label")
    for candidate, tag in newer_tags[:MAX_TAG_PROBES]:
        if best is not None and not candidate.newer_than(best):
            break  # newest first: nothing further down can raise it
        if tag not in probes:
            head = client.head_manifest(repo, tag)
            probes[tag] = head.digest if head else None
        if probes[tag] == digest:
            return candidate, f"tag {tag}"
    return best, how


def _label_version(client: RegistryClient, repo: str, digest: str) -> ReleaseVersion | None:
    manifest = client.get_manifest(repo, digest)
    if manifest.media_type in INDEX_TYPES:
        entries = summarize_index(manifest.json).entries  # attestations are no platform
        if not entries:
            return None
        manifest = client.get_manifest(repo, entries[0].digest)
    if manifest.media_type not in IMAGE_TYPES:
        kind = manifest.media_type or "of no media type"
        raise RegistryError(f"{client.host}/{repo}@{digest[:19]} is {kind}, not an image",
                            "an alias should point at an image; check what the registry holds")
    config = manifest.json.get("config") or {}
    config_digest = config.get("digest") if isinstance(config, dict) else None
    if not isinstance(config_digest, str):
        return None
    config_type = str(config.get("mediaType", ""))
    if config_type not in IMAGE_CONFIG_TYPES:
        raise RegistryError(f"{client.host}/{repo}@{digest[:19]} is an artifact "
                            f"({config_type or 'no config type'}), not a container image",
                            "an alias should point at an image; check what the registry holds")
    blob = client.get_blob_json(repo, config_digest)
    labels = (blob.get("config") or {}).get("Labels") or {}
    text = labels.get(VERSION_LABEL) if isinstance(labels, dict) else None
    if not isinstance(text, str):
        return None
    parsed = version_of_tag(text)
    if parsed is None:  # build metadata (1.2.3+abc) is fine in a label, not in a tag
        with contextlib.suppress(VersionError):
            parsed = parse_version(text.split("+", 1)[0])
    return parsed


def guard(tags: TagSet, version: ReleaseVersion, published: Published) -> TagSet:
    """``tags`` after the never-backwards rule weighed what the registry holds."""
    pointed = {alias: now.version for alias, now in published.aliases.items()}
    return hold_back(tags, version, published.releases, pointed)


def describe(published: Published) -> list[str]:
    """One line per alias saying what it points at now and which version that is."""
    lines = []
    for now in published.aliases.values():
        if now.digest is None:
            lines.append(f"{now.alias}: absent")
        elif now.version is None:
            lines.append(f"{now.alias}: {now.digest[:19]} (no version found: {now.how})")
        else:
            lines.append(f"{now.alias}: {now.digest[:19]} = {now.version.image_tag} ({now.how})")
    return lines


def judge_plan(plan: Plan, client_for: ClientFactory) -> tuple[Plan, list[str]]:
    """``plan`` with each image's aliases weighed against its registry, as the run will weigh
    them again before moving anything; plus notes. A registry that cannot be read leaves that
    image's aliases as the checkout decided and says so in one note (a dry run never fails
    for it; the run does)."""
    images = []
    notes: list[str] = []
    for image in plan.images:
        try:
            client = client_for(image.name)
            try:
                published = read_published(client, image.name.path, plan.version,
                                           image.tags.aliases)
            finally:
                client.close()
        except DockyardError as err:
            notes.append(f"{image.name}: registry not read, aliases judged by the checkout's "
                         f"tags only ({err})")
            images.append(image)
            continue
        images.append(dataclasses.replace(image, tags=guard(image.tags, plan.version, published)))
    return dataclasses.replace(plan, images=tuple(images)), notes
