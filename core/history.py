"""An image's release history: every version tag the registry holds, what it is, what points at it.

The registry is the record (a CI checkout may be shallow, a laptop may never have released), so
the versions come from its tag list; local run reports, where this machine ran the release, add
when it ran and which aliases it moved from where to where.

It reads as little as it can, because on Docker Hub every manifest GET counts as a pull: one HEAD
per tag (the digest it names), then one GET per distinct digest (an index, its platform
manifests, their configs), so ten tags on three images cost ten HEADs and the three images' reads.
Attestation manifests are never read, and a config only when a runnable platform names it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.engines.base import REVISION_LABEL
from core.errors import RegistryError
from core.image import Reads, config_platform, summarize_index
from core.published import version_of_tag
from core.registry import IMAGE_TYPES, INDEX_TYPES

if TYPE_CHECKING:
    from core.registry import RegistryClient
    from core.version import ReleaseVersion


@dataclass(frozen=True)
class PlatformEntry:
    platform: str  # as the config declares it, else as the index lists it
    digest: str
    size: int  # config plus layers, compressed: what a pull of this platform downloads
    created: str | None


@dataclass(frozen=True)
class Run:
    """One local run report that published this version or moved its aliases."""

    mode: str | None  # release, part, merge, rollback, promote
    started: str | None
    finished: str | None
    ok: bool
    commit: str | None
    checkout: str | None  # the project root the run released from, when the report says
    report: str  # the report file
    moved: tuple[tuple[str, str | None, str | None], ...]  # (alias, from digest, to digest)

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "started": self.started, "finished": self.finished,
                "ok": self.ok, "commit": self.commit, "checkout": self.checkout,
                "report": self.report,
                "moved": [{"alias": a, "from": f, "to": t} for a, f, t in self.moved]}


@dataclass(frozen=True)
class Version:
    """One version tag and the image it names."""

    version: ReleaseVersion
    digest: str
    media_type: str
    platforms: tuple[PlatformEntry, ...]
    revision: str | None  # the org.opencontainers.image.revision label
    aliases: tuple[str, ...]  # the other tags naming the same digest now
    problems: tuple[str, ...] = ()
    runs: tuple[Run, ...] = ()

    @property
    def created(self) -> str | None:
        """The newest creation time of its platform images."""
        return max((p.created for p in self.platforms if p.created), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version.image_tag,
            "prerelease": self.version.prerelease,
            "digest": self.digest,
            "media_type": self.media_type,
            "created": self.created,
            "revision": self.revision,
            "aliases": list(self.aliases),
            "platforms": [{"platform": p.platform, "digest": p.digest, "size": p.size,
                           "created": p.created} for p in self.platforms],
            "problems": list(self.problems),
            "runs": [run.to_dict() for run in self.runs],
        }


@dataclass(frozen=True)
class History:
    image: str
    versions: tuple[Version, ...]  # oldest first, semver order
    other_tags: tuple[str, ...]  # tags that are no version, with no version's digest
    requests: Mapping[str, int] = field(default_factory=dict)  # what the reading cost

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "versions": [v.to_dict() for v in self.versions],
                "other_tags": list(self.other_tags), "requests": dict(self.requests)}


#: Tags asked for a page: registries that page (Docker Hub, GHCR, distribution 3) answer with a
#: ``Link`` to the next page, which the client follows.
TAG_PAGE = 100


def read_history(client: RegistryClient, repo: str, image: str, *,
                 report_dir: Path | None = None, page_size: int = TAG_PAGE) -> History:
    """Every strict SemVer version tag of ``repo`` (prereleases too) in SemVer order, each with
    its image and the aliases naming it; runs from the reports in ``report_dir`` for ``image``
    (the full name, as reports key it) when given."""
    tags = client.list_tags(repo, page_size=page_size)
    versions = {tag: v for tag in tags if (v := version_of_tag(tag)) is not None
                and v.image_tag == tag}  # v1.2.3 is the git tag's alias, not a version tag
    reads = Reads(client, repo)
    digests = {tag: reads.head(tag) for tag in tags}
    runs = _runs(report_dir, image) if report_dir is not None else {}
    named = {digests[tag] for tag in versions} - {None}
    rows = []
    for tag, version in sorted(versions.items(), key=lambda item: item[1]):
        digest = digests[tag]
        if digest is None:  # deleted between the listing and the HEAD
            continue
        aliases = tuple(sorted(t for t, d in digests.items()
                               if d == digest and t != tag and t not in versions))
        rows.append(_version(reads, version, digest, aliases, runs.get(tag, ())))
    others = tuple(sorted(t for t in tags if t not in versions and digests[t] not in named))
    return History(image, tuple(rows), others, dict(reads.count))


def _version(reads: Reads, version: ReleaseVersion, digest: str, aliases: tuple[str, ...],
             runs: tuple[Run, ...]) -> Version:
    manifest = reads.manifest(digest)
    if manifest is None:
        return Version(version, digest, "", (), None, aliases, ("the manifest is gone",), runs)
    problems: list[str] = []
    if manifest.media_type in INDEX_TYPES:
        summary = summarize_index(manifest.json)
        problems += summary.problems
        listed = [(str(entry.platform), entry.digest) for entry in summary.entries]
    elif manifest.media_type in IMAGE_TYPES:
        listed = [("", digest)]
    else:
        listed = []
        problems.append(f"not an image ({manifest.media_type or 'no media type'})")
    platforms = []
    revisions = []
    for shown, child_digest in listed:
        child = manifest if child_digest == digest else reads.manifest(child_digest)
        if child is None:
            problems.append(f"{shown} entry points at a missing manifest")
            continue
        body = child.json
        config_digest = (body.get("config") or {}).get("digest")
        config: Mapping[str, Any] = {}
        if child.media_type in IMAGE_TYPES and isinstance(config_digest, str):
            try:
                config = reads.config(config_digest)
            except RegistryError as err:  # one unreadable config spoils one row, not the list
                problems.append(f"{shown or 'its'} config is unreadable ({err})")
        declared = config_platform(config)
        parts = [body.get("config") or {}, *(body.get("layers") or [])]
        created = config.get("created")
        platforms.append(PlatformEntry(
            str(declared) if declared else (shown or "unknown"), child_digest,
            sum(int(part.get("size", 0)) for part in parts),
            created if isinstance(created, str) else None))
        labels = (config.get("config") or {}).get("Labels") or {}
        revision = labels.get(REVISION_LABEL) if isinstance(labels, dict) else None
        if isinstance(revision, str) and revision not in revisions:
            revisions.append(revision)
    if len(revisions) > 1:
        problems.append(f"platforms disagree on the revision ({', '.join(revisions)})")
    return Version(version, digest, manifest.media_type, tuple(platforms),
                   revisions[0] if revisions else None, aliases, tuple(problems), runs)


def _runs(directory: Path, image: str) -> dict[str, tuple[Run, ...]]:
    """The version tags this machine's run reports published for ``image``, oldest run first.
    A report that cannot be read is passed over: it enriches, it never decides."""
    found: dict[str, list[Run]] = {}
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else ():
        try:
            data = json.loads(path.read_text())
            entry = data["images"][image]
            tag = str(entry["version_tag"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        planned = entry.get("aliases") if isinstance(entry.get("aliases"), dict) else {}
        moves = {alias: move if isinstance(move, dict) else {}
                 for alias, move in planned.items()}
        moved = tuple((alias, _text(moves.get(alias, {}).get("previous")),
                       _text(moves.get(alias, {}).get("target")))
                      for alias in _strings(entry.get("moved")))
        found.setdefault(tag, []).append(Run(
            _text(data.get("mode")), _text(data.get("started")), _text(data.get("finished")),
            data.get("ok") is True, _text(data.get("commit")), _text(data.get("checkout")),
            str(path), moved))
    return {tag: tuple(sorted(runs, key=lambda run: run.started or "")) for tag, runs in
            found.items()}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _strings(value: object) -> Iterable[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []

