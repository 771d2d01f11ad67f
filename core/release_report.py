"""What a run leaves behind: the JSON report (phases, digests, every alias's previous digest,
so a move can be rolled back by hand) and, on failure, what the registry holds, in words."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from core.errors import DockyardError
from core.release_state import ImageState, short

if TYPE_CHECKING:
    from core.engines.base import Output
    from core.plan import Plan
    from core.version import ReleaseVersion


def default_report_dir() -> Path:
    """dockyard's state dir (platformdirs: ``$XDG_STATE_HOME/dockyard`` on Linux) ``/runs``:
    outside the project, so a run never dirties the tree."""
    return platformdirs.user_state_path("dockyard") / "runs"


class RunReport:
    """The report of one run, rewritten atomically as the run goes; ``states`` is the run's
    own list, read at each write. A write that fails is remembered in ``error``. ``mode`` says
    what ran: ``release``, ``part`` and ``merge`` (built from a plan, ``for_plan``), or
    ``rollback`` and ``promote`` (tags moved on what the registry holds)."""

    def __init__(self, mode: str, version: ReleaseVersion, commit: str | None,
                 checkout: Path | None, states: list[ImageState],
                 report_dir: Path | None = None, **fields: Any) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        directory = report_dir or default_report_dir()
        run = f"{os.getpid()}-{secrets.token_hex(3)}"  # two runs in one process at once, too
        self.path = directory / f"{version.image_tag}-{stamp}-{run}.json"
        self.data: dict[str, Any] = {
            "version": version.text,
            "commit": commit,
            "checkout": str(checkout) if checkout is not None else None,
            "mode": mode,
            **fields,
            "started": datetime.now(UTC).isoformat(),
            "phases": [],
            "images": {},
            "verify": [],
            "ok": False,
        }
        self.states = states
        self.error: str | None = None

    @classmethod
    def for_plan(cls, plan: Plan, engine: str | None, mode: str, output: Output,
                 states: list[ImageState], report_dir: Path | None = None) -> RunReport:
        """The report of a release (or a part, or a merge) of ``plan``."""
        return cls(mode, plan.version, plan.commit, plan.root, states, report_dir,
                   engine=engine,
                   output={"kind": output.kind,
                           "path": str(output.path) if output.path else None,
                           "platform": str(output.platform) if output.platform else None})

    def image(self, state: ImageState) -> dict[str, Any]:
        """The report's entry for one image (made on first use)."""
        images: dict[str, Any] = self.data["images"]
        entry: dict[str, Any] = images.setdefault(str(state.image.name), {
            "version_tag": state.image.tags.version_tag,
            "aliases_planned": list(state.image.tags.aliases),
        })
        return entry

    def finish(self) -> None:
        self.data["finished"] = datetime.now(UTC).isoformat()

    def write(self, *, strict: bool = False) -> None:
        """Write the report atomically. A failure is remembered (the run then fails at its end);
        with ``strict`` (before anything runs) it stops the run at once."""
        for state in self.states:
            entry = self.image(state)
            entry["skip_build"] = state.skip_build
            entry["digest"] = state.digest
            entry["moved"] = list(state.moved)
            entry["withheld"] = [{"tag": t, "reason": r} for t, r in state.withheld]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, indent=2, default=str) + "\n")
            tmp.replace(self.path)
        except OSError as err:
            self.error = f"cannot write {self.path}: {err.strerror or err}"
            if strict:
                raise DockyardError(self.error, "set XDG_STATE_HOME to a writable "
                                    "directory", field="report") from None


def registry_state(states: Sequence[ImageState], output: Output, restored: list[str]) -> str:
    """What the registry holds now, in words (asked again, not assumed)."""
    if not output.pushes:
        return f"nothing pushed (output {output.kind})"
    if not states:
        return "nothing was pushed"
    parts: list[str] = []
    for state in states:
        image = state.image
        repo = state.repo
        try:
            head = state.client.head_manifest(repo, image.tags.version_tag)
            version = (f"{state.version_ref} "
                       f"{'is ' + head.digest if head else 'was not pushed'}")
            if state.digest is not None and (head is None or head.digest != state.digest):
                version += f" (this run's image {short(state.digest)} has no tag)"
            alias_words = []
            for alias in image.tags.aliases:
                now = state.client.head_manifest(repo, alias)
                digest = now.digest if now else None
                was = state.previous.get(alias, digest)
                if alias not in state.previous or digest == was:
                    alias_words.append(f"{alias} unchanged ({short(digest)})")
                else:
                    alias_words.append(f"{alias} now {short(digest)} (was {short(was)})")
        except Exception as err:  # whatever went wrong, the failure is still reported
            parts.append(f"{image.name}: registry state unknown ({err})")
            continue
        parts.append(f"{version}; aliases: {', '.join(alias_words) or 'none'}")
    if restored:
        parts.append(f"rolled back: {', '.join(restored)}")
    return " | ".join(parts)


def summary(states: Sequence[ImageState]) -> str:
    """What this run published, for a failure that came after it (the report's own)."""
    return "; ".join(f"{s.version_ref} -> {s.digest}, aliases {', '.join(s.kept) or 'none'}"
                     for s in states) or "nothing pushed"
