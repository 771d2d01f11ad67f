"""Promotion: a release candidate's image published as its release, built once.

``dockyard promote IMAGE:1.3.0-rc.2 --as 1.3.0`` checks that the candidate is whole (every
platform of its index present), that every platform was built from one commit (the revision
label) and that the release's git tag (``v1.3.0`` or ``1.3.0``) is on that commit and pushed,
as a release requires. Then the version tag ``1.3.0`` is created from the candidate's exact
bytes (never replacing one) and the aliases move by the release rules (release_aliases.py),
verified after, in a run whose report is a release's (mode ``promote``).

Only the candidate's own release is a target: ``1.3.0-rc.2`` becomes ``1.3.0``, never
``1.3.1`` or ``2.0.0``. The commit the git tag names is then the commit the candidate was
built from, and the image's version label (a ``1.3.0`` prerelease) stays true of its bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import load_config
from core.engines.base import REVISION_LABEL
from core.errors import DockyardError, VersionError
from core.events import Event, LogLine, VerifyReported
from core.image import Image, read_image
from core.plan import ImagePlan
from core.platforms import Platform
from core.publish import create_version_tag, holds
from core.published import guard, read_published, version_of_tag
from core.reference import Reference
from core.registry import RegistryClient
from core.release_aliases import move_aliases, verify_aliases
from core.release_report import RunReport
from core.release_run import run_phases
from core.release_state import ImageState, PhaseFailed
from core.repo import ProjectRepo
from core.tags import TagSet, compute_tags
from core.verify import VerifyReport, verify_release
from core.version import ReleaseVersion, parse_version

#: The phases of a promotion's run, in order.
PHASES = ("verify", "tag", "aliases", "verify-aliases")

_Step = Generator[Event, None, str]


@dataclass(frozen=True)
class Promotion:
    """A promotion that passed every check: what it publishes, and what it found."""

    image: ImagePlan  # the image, and the tags the release earns by the checkout's tags
    candidate: str  # the candidate's version tag, "1.3.0-rc.2"
    version: ReleaseVersion  # the release, spelled as its git tag ("v1.3.0")
    digest: str  # the candidate's digest: the release's bytes
    commit: str  # the git tag's commit, which every platform's revision label names
    remote: str  # where the git tag is pushed
    root: Path  # the checkout
    platforms: tuple[Platform, ...]  # the candidate's own
    verified: VerifyReport  # the candidate checked against its own platforms
    existing: str | None  # the digest the version tag names already, None when it is free
    judged: TagSet  # the aliases as the registry stands now (the run weighs them again)

    @property
    def already(self) -> bool:
        """The version tag is already on the candidate's bytes: only the aliases are left."""
        return self.existing == self.digest

    def to_dict(self) -> dict[str, Any]:
        name = self.image.name
        return {
            "image": str(name), "candidate": self.candidate, "digest": self.digest,
            "version": self.version.image_tag, "git_tag": self.version.git_tag,
            "commit": self.commit, "remote": self.remote, "checkout": str(self.root),
            "platforms": [str(p) for p in self.platforms],
            "version_tag": "already promoted" if self.already else "create",
            "aliases": list(self.judged.aliases),
            "withheld": [{"tag": t, "reason": r} for t, r in self.judged.withheld],
        }

    def lines(self) -> list[str]:
        """What the run would do, in words."""
        name = self.image.name
        tag = self.image.tags.version_tag
        platforms = ", ".join(str(p) for p in self.platforms)
        lines = [f"promote {name.with_tag(self.candidate)} as {tag}",
                 f"  candidate {self.digest}: {platforms} verified",
                 f"  built from {self.commit} = git tag {self.version.git_tag}, "
                 f"pushed to {self.remote}"]
        if self.already:
            lines.append(f"  {tag}: already on the candidate's digest (already promoted)")
        else:
            lines.append(f"  {tag}: create on {self.digest}")
        aliases = ", ".join(self.judged.aliases) or "none"
        lines.append(f"  aliases: {aliases} (weighed again before each moves: never backwards)")
        lines += [f"  withheld {alias}: {reason}" for alias, reason in self.judged.withheld]
        return lines


def candidate_version(reference: Reference) -> ReleaseVersion:
    """The candidate's version: ``IMAGE:TAG`` whose tag is a prerelease version tag."""
    if reference.tag is None or reference.digest is not None:
        raise DockyardError(f"{str(reference)!r} names no candidate tag",
                            "give IMAGE:CANDIDATE, e.g. ghcr.io/acme/app:1.3.0-rc.2",
                            field="image")
    version = version_of_tag(reference.tag)
    if version is None or version.image_tag != reference.tag:
        raise DockyardError(f"{reference.tag!r} is not a version tag",
                            "give the candidate's version tag, e.g. 1.3.0-rc.2", field="image")
    if not version.prerelease:
        raise DockyardError(f"{reference.tag} is a release, not a candidate",
                            "promote a prerelease to its release, e.g. 1.3.0-rc.2 --as 1.3.0",
                            field="image")
    return version


def release_of(candidate: ReleaseVersion, target: str) -> ReleaseVersion:
    """``--as``: the candidate's own release (1.3.0-rc.2 -> 1.3.0) and nothing else."""
    own = str(candidate.version.finalize_version())
    try:
        version = parse_version(target)
    except VersionError as err:
        raise DockyardError(err.problem, f"give --as {own}", field="as") from None
    if version.prerelease or version.version.build is not None:
        raise DockyardError(f"{target!r} is not a release version",
                            f"give --as {own} (no prerelease, no build metadata)", field="as")
    if version.image_tag != own:
        raise DockyardError(f"{candidate.image_tag} cannot become {version.image_tag}",
                            f"a candidate becomes its own release: --as {own}", field="as")
    return version


def check_promotion(client: RegistryClient, reference: Reference, target: str,
                    root: Path) -> Promotion:
    """Every check a promotion makes, reading only; the first that fails raises."""
    candidate = candidate_version(reference)
    wanted = release_of(candidate, target)
    name, repo = reference.name, reference.name.path
    shown = name.with_tag(candidate.image_tag)
    head = client.head_manifest(repo, candidate.image_tag)
    if head is None:
        raise DockyardError(f"{shown} does not exist in the registry",
                            f"give a candidate it holds (dockyard history {name} lists them)",
                            field="image")
    digest = head.digest  # every read below is by digest: the candidate tag may move
    image = read_image(client, repo, digest)
    platforms = _platforms(image, shown)
    verified = verify_release(client, name, digest, platforms)
    if not verified.ok:
        raise DockyardError(f"{shown} is not whole: {'; '.join(verified.problems)}",
                            "promote a candidate whose every platform is in the registry",
                            field="verify")
    revision = _revision(image, shown)
    checkout = ProjectRepo.open(root)
    git_tag, commit, remote = _git_tag(checkout, wanted, revision)
    if revision != commit:
        raise DockyardError(
            f"{shown} was built from commit {revision}, but {git_tag} is on commit {commit}",
            f"promote a candidate built from {commit} (dockyard history {name} shows each "
            "one's revision), or build it: dockyard release --tag " + git_tag, field="revision")
    version = parse_version(git_tag)
    tag = version.image_tag
    existing = client.head_manifest(repo, tag)
    if existing is not None and existing.digest != digest:
        raise DockyardError(
            f"{name.with_tag(tag)} already exists on {existing.digest}, not on the "
            f"candidate's {digest}", "version tags are never replaced: promote a candidate of "
            "the next version", field="as")
    policy = load_config(checkout.root).tags
    tags = compute_tags(version, checkout.version_tags(), policy, commit)
    published = read_published(client, repo, version, tags.aliases)
    return Promotion(
        image=ImagePlan(name, tags), candidate=candidate.image_tag, version=version,
        digest=digest, commit=commit, remote=remote, root=checkout.root, platforms=platforms,
        verified=verified, existing=existing.digest if existing else None,
        judged=guard(tags, version, published))


def _platforms(image: Image, shown: str) -> tuple[Platform, ...]:
    """The candidate's own platforms: its index's, or the one its single manifest declares."""
    if image.index is not None:
        platforms = image.index.platforms
    else:
        declared = image.platforms[0].declared if image.is_image else None
        platforms = (declared,) if declared is not None else ()
    if not platforms:
        raise DockyardError(f"{shown} holds no platform image",
                            "promote a candidate a release pushed", field="image")
    return platforms


def _revision(image: Image, shown: str) -> str:
    """The one commit every platform's revision label names."""
    revisions: dict[str, list[str]] = {}
    for platform in image.platforms:
        labels = (platform.config.get("config") or {}).get("Labels") or {}
        label = labels.get(REVISION_LABEL) if isinstance(labels, dict) else None
        where = str(platform.declared or platform.digest)
        if not isinstance(label, str) or not label:
            raise DockyardError(
                f"{shown} ({where}) has no {REVISION_LABEL} label, so the commit it was built "
                "from is unknown", "promote a candidate dockyard released (it sets the label)",
                field="revision")
        revisions.setdefault(label, []).append(where)
    if len(revisions) > 1:
        found = ", ".join(f"{label} ({', '.join(where)})" for label, where in revisions.items())
        raise DockyardError(f"{shown}'s platforms were built from different commits: {found}",
                            "promote a candidate built from one commit", field="revision")
    return next(iter(revisions))


def _git_tag(checkout: ProjectRepo, wanted: ReleaseVersion,
             revision: str) -> tuple[str, str, str]:
    """The release's git tag as the checkout spells it, its commit, and the remote it is
    pushed to at that same commit (as a release requires)."""
    spellings = (f"v{wanted.image_tag}", wanted.image_tag)
    found = {tag: commit for tag in spellings
             if (commit := checkout.tag_commit(tag)) is not None}
    remote = checkout.remote_name()
    push = f"git push {remote or 'origin'} v{wanted.image_tag}"
    if not found:
        raise DockyardError(
            f"neither {spellings[0]} nor {spellings[1]} is a tag in {checkout.root}",
            f"tag the candidate's commit and push it: git tag -a {spellings[0]} {revision[:12]} "
            f"&& {push}", field="tag")
    if len(set(found.values())) > 1:
        raise DockyardError(f"{spellings[0]} and {spellings[1]} are on different commits",
                            "delete the wrong one so the release has one commit", field="tag")
    tag, commit = next(iter(found.items()))
    if remote is None:
        raise DockyardError(f"the checkout has no remote, so {tag} is not pushed",
                            "a promotion, like a release, needs it pushed: add a remote and "
                            f"git push origin {tag}", field="tag")
    pushed = checkout.check_pushed(tag, commit, remote)
    if not pushed.ok:
        raise DockyardError(pushed.message, pushed.fix, field="tag")
    return tag, commit, remote


def run_promotion(promotion: Promotion, client: RegistryClient, *,
                  report_dir: Path | None = None,
                  cancel: threading.Event | None = None) -> Iterator[Event]:
    """The events of one promotion (release_run.run_phases: a report like a release's, aliases
    given back on failure); ends with ReleaseFinished."""
    cancel = cancel or threading.Event()
    state = ImageState(promotion.image, client, digest=promotion.digest)
    states = [state]
    report = RunReport("promote", promotion.version, promotion.commit, promotion.root, states,
                       report_dir, candidate=promotion.candidate,
                       candidate_digest=promotion.digest, git_tag=promotion.version.git_tag)
    version = promotion.version

    def still_ours(state: ImageState, phase: str) -> Iterator[Event]:
        """The version tag still holds the candidate; else another run took it: move nothing."""
        other = holds(client, state.repo, state.image.tags.version_tag, promotion.digest)
        if other is not None:
            raise PhaseFailed(phase, f"{state.version_ref} was changed during this run: it "
                              f"now holds {other}, not the candidate's {promotion.digest}",
                              "lost")
        yield from ()

    def verify() -> _Step:
        report.data["verify"].append({"phase": "verify", **promotion.verified.to_dict()})
        yield VerifyReported(promotion.verified)
        state.manifest = client.get_manifest(state.repo, promotion.digest)
        return f"{promotion.candidate} whole on {len(promotion.platforms)} platform(s)"

    def tag() -> _Step:
        assert state.manifest is not None
        claim = create_version_tag(client, state.repo, promotion.image.tags.version_tag,
                                   state.manifest)
        if not claim.won(promotion.digest):
            raise PhaseFailed("tag", f"{state.version_ref} was created by another run during "
                              f"this one: it holds {claim.holder}, not the candidate's "
                              f"{promotion.digest}; version tags are never replaced, so "
                              "nothing was moved")
        words = "created" if claim.created else "already there (already promoted)"
        yield LogLine(text=f"{state.version_ref} -> {promotion.digest} ({words})")
        return f"{state.version_ref} {words}"

    def aliases() -> _Step:
        return (yield from move_aliases(states, version, report, cancel, still_ours))

    def verify_after() -> _Step:
        yield from verify_aliases(state, version, promotion.platforms, report, still_ours)
        return "aliases resolve to the version digest"

    return run_phases(zip(PHASES, (verify, tag, aliases, verify_after), strict=True),
                      report, states, cancel)
