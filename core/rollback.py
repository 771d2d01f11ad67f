"""Rollback (and roll-forward): point a published version's aliases back at it, nothing rebuilt.

Two steps, so a front end can show what would move and ask before anything does:
``plan_rollback`` reads the target and where each alias points now; ``run_rollback`` writes the
report, then moves each alias only while it still points where the plan saw it (another run
moving it meanwhile stops the rollback), and reads every alias back at the end.

The target is verified against its own index (every platform it lists has its manifest and a
config declaring that platform) before anything moves, so an alias never lands on a broken
image. The versions above the target stay published: nothing is deleted, and a later release
still judges "never backwards" against them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import DockyardError, TagPolicyError
from core.image import config_platform, summarize_index
from core.plan import ImagePlan
from core.publish import put_alias
from core.published import version_of_tag
from core.reference import ImageName
from core.registry import IMAGE_TYPES, INDEX_TYPES, Manifest, RegistryClient, StopFlag
from core.release_report import RunReport
from core.release_state import ImageState, short
from core.tags import TagSet, series_of, validate_tag
from core.verify import verify_release
from core.version import ReleaseVersion

_SERIES_ALIAS = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)  # ``1`` or ``1.2``
#: How many version tags a "not there" refusal names (the newest ones).
_SHOWN_TAGS = 8


@dataclass(frozen=True)
class AliasMove:
    """One alias of the plan and the digest it pointed at when the plan was made."""

    alias: str
    previous: str | None  # None: the alias does not exist yet


@dataclass(frozen=True)
class RollbackPlan:
    """What a rollback would do: the verified target and each alias with where it points now."""

    name: ImageName
    version: ReleaseVersion
    digest: str
    manifest: Manifest  # the target's exact bytes: every alias is written from them
    platforms: tuple[str, ...]
    moves: tuple[AliasMove, ...]
    chosen: bool  # the aliases were given (--alias), not the target's own

    @property
    def pending(self) -> tuple[AliasMove, ...]:
        """The moves still to make (an alias already on the target stays as it is)."""
        return tuple(move for move in self.moves if move.previous != self.digest)

    @property
    def nothing_to_do(self) -> bool:
        return not self.pending

    def lines(self) -> list[str]:
        """The plan in words, one alias a line: ``latest: sha256:… -> sha256:…``."""
        lines = []
        for move in self.moves:
            if move.previous == self.digest:
                lines.append(f"{move.alias}: already on {self.version.image_tag}")
            else:
                lines.append(f"{move.alias}: {short(move.previous)} -> {short(self.digest)}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {"image": str(self.name), "to": self.version.image_tag, "digest": self.digest,
                "platforms": list(self.platforms), "chosen": self.chosen,
                "aliases": [{"alias": m.alias, "from": m.previous, "to": self.digest,
                             "moves": m.previous != self.digest} for m in self.moves]}


@dataclass
class RollbackResult:
    """What a run did: ``ok`` only when every alias was moved and read back on the target."""

    plan: RollbackPlan
    report: Path | None
    moved: list[str] = field(default_factory=list)
    ok: bool = False
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**self.plan.to_dict(), "ok": self.ok, "error": self.error, "moved": self.moved,
                "report": str(self.report) if self.report else None}


def plan_rollback(client: RegistryClient, name: ImageName, to: str,
                  aliases: Sequence[str] | None = None) -> RollbackPlan:
    """The rollback of ``name``'s aliases to version tag ``to``: the target verified against its
    own index, then each alias (the target's ``X.Y``, ``X`` and ``latest`` by default, else
    ``aliases``) with where it points now. Raises a DockyardError naming "to" or "alias"."""
    version = _target_version(to)
    chosen = aliases is not None
    wanted = _chosen_aliases(aliases, version) if aliases is not None else _own_aliases(version)
    repo = name.path
    manifest = client.find_manifest(repo, to)
    if manifest is None:
        raise DockyardError(f"{name}:{to} is not published", _published_versions(client, repo),
                            field="to")
    platforms = _listed_platforms(client, name, to, manifest)
    report = verify_release(client, name, to, platforms)
    if report.digest != manifest.digest:
        raise DockyardError(f"{name}:{to} changed while it was read ({short(manifest.digest)}, "
                            f"then {short(report.digest)})", "a version tag is never replaced: "
                            "check who writes to this repository", field="to")
    if not report.ok:
        raise DockyardError(f"{name}:{to} fails verification, nothing moved: "
                            f"{'; '.join(report.problems)}",
                            "roll back to a version whose every platform is intact", field="to")
    moves = []
    for alias in wanted:
        head = client.head_manifest(repo, alias)
        moves.append(AliasMove(alias, head.digest if head else None))
    return RollbackPlan(name, version, manifest.digest, manifest, tuple(platforms),
                        tuple(moves), chosen)


def run_rollback(plan: RollbackPlan, client: RegistryClient, report_dir: Path | None = None,
                 cancel: StopFlag | None = None) -> RollbackResult:
    """Move the plan's aliases to its target, each only while it still points where the plan
    saw it; the report (every alias's previous digest) is on disk before the first move and
    rewritten after each. A DockyardError from the registry ends the run with ``ok`` False."""
    aliases = tuple(move.alias for move in plan.moves)
    state = ImageState(ImagePlan(plan.name, TagSet(plan.version.image_tag, aliases, ())),
                       client, digest=plan.digest, manifest=plan.manifest, kept=list(aliases),
                       previous={move.alias: move.previous for move in plan.moves})
    report = RunReport("rollback", plan.version, None, None, [state], report_dir,
                       platforms=list(plan.platforms), chosen=plan.chosen)
    report.image(state)["aliases"] = {move.alias: {"previous": move.previous,
                                                   "target": plan.digest} for move in plan.moves}
    report.write(strict=True)  # the way back is on disk before anything moves
    result = RollbackResult(plan, report.path, state.moved)
    try:
        _move(plan, state, report, cancel)
        _read_back(plan, client)
    except DockyardError as err:
        result.error = str(err)
    result.error = result.error or report.error
    result.ok = report.data["ok"] = result.error is None
    if result.error:
        report.data["error"] = result.error
    report.finish()
    report.write()
    if report.error and result.ok:  # the last write failed: the run cannot vouch for it
        result.ok, result.error = False, report.error
    return result


def _move(plan: RollbackPlan, state: ImageState, report: RunReport,
          cancel: StopFlag | None) -> None:
    """Each pending alias, checked then moved; a DockyardError says why it stopped."""
    for move in plan.pending:
        so_far = f"moved so far: {', '.join(state.moved) or 'none'}"
        if cancel is not None and cancel.is_set():
            raise DockyardError(f"cancelled before {move.alias}; {so_far}",
                                "run the rollback again to move the rest", field="rollback")
        head = state.client.head_manifest(state.repo, move.alias)
        now = head.digest if head else None
        if now != move.previous:
            raise DockyardError(
                f"{plan.name}:{move.alias} was moved by someone else since the plan (now "
                f"{short(now)}, planned from {short(move.previous)}); stopped, {so_far}",
                "plan the rollback again from where the aliases are now", field="alias")
        put_alias(state.client, state.repo, move.alias, plan.manifest)
        state.moved.append(move.alias)
        report.write()


def _read_back(plan: RollbackPlan, client: RegistryClient) -> None:
    """Every alias asked again: the registry, not the PUT's answer, says where it points."""
    wrong = []
    for move in plan.moves:
        head = client.head_manifest(plan.name.path, move.alias)
        if head is None or head.digest != plan.digest:
            wrong.append(f"{move.alias} is on {short(head.digest if head else None)}")
    if wrong:
        raise DockyardError(f"read back after the moves, not on {plan.version.image_tag} "
                            f"({short(plan.digest)}): {', '.join(wrong)}",
                            "another run moved them at the same time; check with dockyard "
                            "history", field="alias")


def _target_version(to: str) -> ReleaseVersion:
    version = version_of_tag(to)
    if version is None or version.image_tag != to:
        hint = f"e.g. {version.image_tag}" if version is not None else "e.g. 1.2.3"
        raise DockyardError(f"{to!r} is not a version tag", f"give a SemVer version tag as "
                            f"the registry holds it, {hint}", field="to")
    return version


def _own_aliases(version: ReleaseVersion) -> tuple[str, ...]:
    """The moving aliases a release owns: its ``X.Y``, ``X`` and ``latest``."""
    if version.prerelease:
        raise DockyardError(f"{version.image_tag} is a prerelease: it owns no alias "
                            "(X.Y, X, latest)", "roll back to a release version, or promote "
                            "the candidate (dockyard promote)", field="to")
    major, minor = version.version.major, version.version.minor
    return (f"{major}.{minor}", f"{major}", "latest")


def _chosen_aliases(aliases: Sequence[str], version: ReleaseVersion) -> tuple[str, ...]:
    """``aliases`` when every one is a moving alias in ``version``'s series."""
    own = _own_aliases(version)
    valid = f"give moving aliases of {version.image_tag}: {', '.join(own)} or an extra tag"
    if not aliases:
        raise DockyardError("no alias given", valid, field="alias")
    for alias in aliases:
        try:
            validate_tag(alias)
        except TagPolicyError as err:
            raise DockyardError(err.problem, err.valid, field="alias") from None
        if version_of_tag(alias) is not None:
            raise DockyardError(f"{alias} is a version tag, never moved", valid, field="alias")
        if _SERIES_ALIAS.fullmatch(alias) and alias not in own:
            raise DockyardError(f"{alias} is outside {version.image_tag}'s series", valid,
                                field="alias")
        if series_of(alias, version) is None:
            raise DockyardError(f"{alias} names one build, not a series", valid, field="alias")
    return tuple(dict.fromkeys(aliases))


def _listed_platforms(client: RegistryClient, name: ImageName, to: str,
                      manifest: Manifest) -> list[str]:
    """The platforms the target says it has: its index's runnable entries, or the one its
    config declares for a single image."""
    if manifest.media_type in INDEX_TYPES:
        platforms = [str(p) for p in summarize_index(manifest.json).platforms]
    elif manifest.media_type in IMAGE_TYPES:
        config = manifest.json.get("config") or {}
        digest = config.get("digest") if isinstance(config, dict) else None
        declared = (config_platform(client.get_blob_json(name.path, digest))
                    if isinstance(digest, str) else None)
        platforms = [str(declared)] if declared else []
    else:
        raise DockyardError(f"{name}:{to} is {manifest.media_type or 'of no media type'}, "
                            "not an image", "roll back to a version tag naming an image",
                            field="to")
    if not platforms:
        raise DockyardError(f"{name}:{to} lists no platform", "roll back to a version whose "
                            "image names its platforms", field="to")
    return platforms


def _published_versions(client: RegistryClient, repo: str) -> str:
    """What would be valid for "to": the repository's newest version tags."""
    tags = client.list_tags(repo, missing_ok=True)
    versions = sorted(v for tag in tags if (v := version_of_tag(tag)) and v.image_tag == tag)
    if not versions:
        return "the repository has no version tags"
    shown = [v.image_tag for v in versions[-_SHOWN_TAGS:]]
    more = "" if len(versions) <= _SHOWN_TAGS else f" (newest {_SHOWN_TAGS} of {len(versions)})"
    return f"published versions: {', '.join(shown)}{more}"
