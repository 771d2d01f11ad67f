"""The aliases of a release (``latest``, ``1.2``, ``1``): weighed against the registry so none
goes backwards, moved to the verified bytes, settled after a race with another release, and
given back when the run fails."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import TYPE_CHECKING

from core.events import AliasMoved, AliasWithheld, Event, LogLine, VerifyReported
from core.release_report import RunReport
from core.release_state import ImageState, PhaseFailed
from core.tags import series_of

if TYPE_CHECKING:
    from core.platforms import Platform
    from core.version import ReleaseVersion

#: Checks that ``state``'s version tag still holds this run's image before a move (release_run).
StillOurs = Callable[[ImageState, str], Iterator[Event]]


def move_aliases(states: Sequence[ImageState], version: ReleaseVersion, report: RunReport,
                 cancel: threading.Event, still_ours: StillOurs) -> Generator[Event, None, str]:
    """Weigh the registry (never backwards), write down where each alias points, then move
    the ones not there yet, checking before each move that the version tag is still ours."""
    from core.publish import put_alias  # with core.published: httpx, kept off start-up
    from core.published import guard, read_published

    for state in states:
        image = state.image
        published = read_published(state.client, state.repo, version, image.tags.aliases)
        allowed = guard(image.tags, version, published)
        for alias, reason in allowed.withheld:
            if alias in image.tags.aliases:
                state.withheld.append((alias, reason))
                yield AliasWithheld(str(image.name), alias, reason)
        state.kept = list(allowed.aliases)
        for alias in image.tags.aliases:
            now = published.aliases.get(alias)
            if now is None:
                head = state.client.head_manifest(state.repo, alias)
                state.previous[alias] = head.digest if head else None
            else:
                state.previous[alias] = now.digest
        report.image(state)["aliases"] = {
            alias: {"previous": state.previous[alias], "target": state.digest}
            for alias in state.kept
        }
    report.write()  # the rollback information is on disk before anything moves
    moved = 0
    for state in states:
        assert state.manifest is not None and state.digest is not None
        for alias in state.kept:
            if state.previous[alias] == state.digest:
                yield LogLine(text=f"{state.image.name.with_tag(alias)} already at "
                                   f"{state.digest}")
                continue
            if cancel.is_set():
                raise PhaseFailed("aliases", "cancelled", "cancelled")
            yield from still_ours(state, "aliases")
            put_alias(state.client, state.repo, alias, state.manifest)
            state.moved.append(alias)
            report.write()
            moved += 1
            yield AliasMoved(str(state.image.name), alias, state.previous[alias], state.digest)
    held = sum(len(s.withheld) for s in states)
    return f"moved {moved} alias(es)" + (f", withheld {held}" if held else "")


def settle(state: ImageState, version: ReleaseVersion, rounds: int = 3) -> Iterator[Event]:
    """Read the registry again after the moves. A newer release published meanwhile takes
    back an alias this run moved (it is handed to that release's version tag); an alias an
    older release moved after us is put back on ours. Repeats until nothing changes."""
    from core.publish import put_alias  # with core.published: httpx, kept off start-up
    from core.published import guard, read_published

    assert state.manifest is not None and state.digest is not None
    for _ in range(rounds):
        tags = dataclasses.replace(state.image.tags, aliases=tuple(state.kept), withheld=())
        published = read_published(state.client, state.repo, version, tags.aliases,
                                   known={state.digest: version})
        allowed = guard(tags, version, published)
        changed = False
        for alias, reason in allowed.withheld:
            now = published.aliases.get(alias)
            if now is not None and now.digest == state.digest:
                newest = newest_in_series(alias, version, published.releases)
                if newest is not None:
                    source = state.client.get_manifest(state.repo, newest.image_tag)
                    put_alias(state.client, state.repo, alias, source)
                    yield LogLine(text=f"{state.image.name.with_tag(alias)} given back to "
                                       f"{newest.image_tag} ({source.digest})")
                    changed = True
            state.kept.remove(alias)
            state.withheld.append((alias, f"{reason} (published during this run)"))
            yield AliasWithheld(str(state.image.name), alias, state.withheld[-1][1])
        for alias in allowed.aliases:
            now = published.aliases.get(alias)
            digest = now.digest if now is not None else None
            if now is None:
                head = state.client.head_manifest(state.repo, alias)
                digest = head.digest if head else None
            if digest != state.digest:
                put_alias(state.client, state.repo, alias, state.manifest)
                yield LogLine(text=f"{state.image.name.with_tag(alias)} was moved to "
                                   f"{digest or 'nothing'} by another run; put back on "
                                   f"{state.digest}")
                changed = True
        if not changed:
            return


def verify_aliases(state: ImageState, version: ReleaseVersion,
                   platforms: Sequence[Platform], report: RunReport,
                   still_ours: StillOurs) -> Iterator[Event]:
    """After the moves: the version tag is still this run's, races over the aliases are
    settled, then the version tag and every alias kept are verified (PhaseFailed if not)."""
    # kept off the start-up path: loads httpcore, httpx
    from core.verify import verify_release

    yield from still_ours(state, "verify-aliases")
    yield from settle(state, version)
    yield from still_ours(state, "verify-aliases")
    image = state.image
    verified = verify_release(state.client, image.name, image.tags.version_tag, platforms,
                              state.kept)
    report.data["verify"].append({"phase": "verify-aliases", **verified.to_dict()})
    yield VerifyReported(verified)
    if not verified.ok:
        raise PhaseFailed("verify-aliases", "; ".join(verified.problems))


def newest_in_series(alias: str, version: ReleaseVersion, releases: Sequence[ReleaseVersion]
                     ) -> ReleaseVersion | None:
    """The newest of ``releases`` that ``alias`` may point at (``1.2``: a 1.2.x)."""
    in_series = series_of(alias, version)
    return max((k for k in releases if in_series is None or in_series(k)), default=None)


def restore(states: Sequence[ImageState], *, lost: bool) -> list[str]:
    """Moved aliases still on this run's digest go back: to where they pointed before, or,
    when another release holds the version tag, to that release (its exact bytes)."""
    done: list[str] = []
    for state in states:
        repo = state.repo
        for alias in state.moved:
            with contextlib.suppress(Exception):  # best effort: the report says the rest
                now = state.client.head_manifest(repo, alias)
                if now is None or now.digest != state.digest:
                    continue  # someone moved it since: theirs to keep
                target = state.image.tags.version_tag if lost else state.previous.get(alias)
                if target is None:
                    continue  # the registry API cannot delete a tag alone; reported below
                manifest = state.client.get_manifest(repo, target)
                state.client.put_manifest(repo, alias, manifest.raw, manifest.media_type)
                done.append(state.image.name.with_tag(alias))
    return done
