"""A build engine for the fast suite that replays what real engines did, never invented events.

podman: ``scripts/record-engine-events`` runs the real PodmanEngine on this machine (throw-away
storage, a throw-away registry) and stores, per build, under ``tests/fixtures/engine/NAME/``:

* ``events.jsonl``: every event ``build`` yielded (the image as ``{image}``, its registry as
  ``{registry}``);
* ``layout/``: the OCI layout podman wrote, which dockyard then uploaded;
* ``run.json``: the plan it built, what ``check`` and ``commands`` answered, the error it
  raised and, for a cancelled build, where the cancel landed.

``RecordedEngine`` replays one: the events as recorded, except that each ``DigestPushed`` is
the real upload of the recorded layout to the test's registry (the same bytes, so the same
digest, which is checked).

buildx: the real ``BuildxEngine`` with the stand-in ``docker`` on PATH (tests/support/buildx.py),
so the recordings in ``../shared`` go through the real buildx parser: ``buildx_replay``.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import core.errors
import core.events
from core.engines.base import (
    PUSH,
    BuilderSupport,
    ClientFactory,
    EngineOptions,
    Output,
    PlatformSupport,
)
from core.events import DigestPushed, Event
from core.plan import BuildOptions, ImagePlan, Plan, PlanRequest, make_plan
from core.platforms import Platform, parse_platform
from core.publish import upload_layout
from core.reference import ImageName
from core.registry import ManifestHead, RegistryClient
from tests.e2e.conftest import DOCKERFILE
from tests.support.elf import write_elf
from tests.support.gitrepo import GIT_ENV

if TYPE_CHECKING:
    import pytest

    from core.engines.buildx import BuildxEngine

Hook = Callable[[str], None]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "engine"

#: The e2e project with a step that fails for real (scratch has no shell), as test_publish's.
FAILING = DOCKERFILE + "RUN test -f /etc/app.conf\n"
#: A step that runs until it is stopped (busybox-static, native on amd64), to record a cancel.
SLOW = ('FROM scratch\nCOPY busybox /bin/busybox\n'
        'RUN ["/bin/busybox", "sh", "-c", "echo tick; /bin/busybox sleep 471"]\n')
#: Fixed dates: the same project made again has the same commit ids as when it was recorded.
_DATES = {"GIT_AUTHOR_DATE": "2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z"}


def _git(root: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV, **_DATES, "HOME": str(root)}
    done = subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True, env=env)
    return done.stdout.strip()


def make_project(root: Path, tags: Sequence[str], dockerfile: str = DOCKERFILE,
                 salt: str = "") -> Path:
    """A real git repo holding the e2e project (a Dockerfile and one ELF binary per platform),
    one commit per tag from the second on; the commit ids depend only on the arguments."""
    root.mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    (root / "Dockerfile").write_text(dockerfile)
    write_elf(root / "dist" / "amd64" / "app", "x86-64")
    write_elf(root / "dist" / "arm64" / "app", "aarch64")
    (root / "dist" / "amd64" / "app.conf").write_text("conf\n")
    (root / "README").write_text(f"project {salt}\n")
    (root / ".git" / "info" / "exclude").write_text("busybox\n")  # SLOW's, copied in untracked
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "project")
    for index, tag in enumerate(tags):
        if index:
            (root / "CHANGES").write_text(f"{tag}\n")
            _git(root, "add", "-A")
            _git(root, "commit", "-q", "-m", tag)
        _git(root, "tag", "-a", tag, "-m", f"release {tag}")
    return root


def to_text(value: Any, names: dict[str, str]) -> Any:
    """``value`` with each key of ``names`` replaced by its placeholder, in every string (the
    image a recording pushed to becomes ``{image}``, its registry ``{registry}``)."""
    if isinstance(value, str):
        for name, placeholder in names.items():
            value = value.replace(name, placeholder)
        return value
    if isinstance(value, list | tuple):
        return [to_text(v, names) for v in value]
    if isinstance(value, dict):
        return {k: to_text(v, names) for k, v in value.items()}
    return value


def placeholders(image: ImageName) -> dict[str, str]:
    """What stands for ``image`` (and its registry) in stored text; the longest first."""
    return {str(image): "{image}", image.domain: "{registry}"}


def from_text(value: Any, image: ImageName) -> Any:
    """The reverse of to_text, for the image a replay pushes to."""
    return to_text(value, {v: k for k, v in placeholders(image).items()})


def error_record(err: BaseException) -> dict[str, Any]:
    """How a raised engine error is stored: its class and the fields it was made from."""
    record: dict[str, Any] = {"type": type(err).__name__, "module": type(err).__module__}
    if isinstance(err, core.errors.DockyardError):
        record.update(problem=err.problem, valid=err.valid, field=err.field)
    else:
        record["text"] = str(err)
    return record


def _raise(record: dict[str, Any]) -> None:
    """Raise the recorded error again: its own class, made from the recorded fields (some
    classes build their text in ``__init__``; the fields are what that built)."""
    cls = getattr(importlib.import_module(record["module"]), record["type"], None)
    if not (isinstance(cls, type) and issubclass(cls, core.errors.DockyardError)):
        raise RuntimeError(f"recorded {record['type']}: {record.get('text', '')}")
    err = core.errors.DockyardError.__new__(cls)
    core.errors.DockyardError.__init__(err, record["problem"], record["valid"],
                                       field=record["field"])
    raise err


@dataclasses.dataclass(frozen=True)
class Recording:
    """One recorded build (a directory under tests/fixtures/engine)."""

    name: str
    directory: Path
    run: dict[str, Any]

    @classmethod
    def load(cls, name: str) -> Recording:
        directory = FIXTURES / name
        if not (directory / "run.json").is_file():
            raise FileNotFoundError(f"no engine recording {name!r} (scripts/record-engine-events)")
        return cls(name, directory, json.loads((directory / "run.json").read_text()))

    @property
    def layout(self) -> Path:
        return self.directory / "layout"

    @property
    def commit(self) -> str:
        return str(self.run["plan"]["commit"])

    @property
    def digest(self) -> str | None:
        """The digest podman's layout had when it was recorded (None: the build pushed none)."""
        return self.run.get("digest")

    def events(self, image: ImageName) -> list[dict[str, Any]]:
        lines = (self.directory / "events.jsonl").read_text().splitlines()
        return [from_text(json.loads(line), image) for line in lines if line]

    def plan(self, root: Path, image: str, **changes: Any) -> Plan:
        """The plan this build was recorded for, pushing to ``image`` (a test's repository):
        its project made again under ``root``, a real git repo with the recorded commit."""
        recorded = self.run["plan"]
        make_project(root, recorded["tags"], recorded["dockerfile"], recorded["salt"])
        plan = make_plan(PlanRequest(
            root=root, images=(image,), platforms=tuple(recorded["platforms"]),
            mode=recorded["mode"], binary=recorded["binary"],
            build=BuildOptions(provenance=recorded["provenance"])))
        if plan.commit != recorded["commit"]:
            raise RuntimeError(f"project {self.name} is no longer the one recorded "
                               f"({plan.commit} != {recorded['commit']}): re-record")
        if changes:
            tags = dataclasses.replace(plan.images[0].tags, **changes)
            plan = dataclasses.replace(plan, images=(dataclasses.replace(plan.images[0],
                                                                         tags=tags),))
        return plan


class RecordedEngine:
    """The Engine protocol answered from one recording (see the module docstring)."""

    def __init__(self, recording: Recording | str, *, cancel_wait: float = 60.0) -> None:
        self.recording = Recording.load(recording) if isinstance(recording, str) else recording
        self.name = str(self.recording.run["engine"])
        self.note = ""
        self.options = EngineOptions()
        self.cancel_wait = cancel_wait  # bound on the wait for a cancel a recording holds
        self.builds = 0

    def _support(self) -> tuple[PlatformSupport, ...]:
        return tuple(PlatformSupport(**item) for item in self.recording.run["check"])

    def support(self, platforms: Sequence[Platform]) -> BuilderSupport:
        known = {s.platform: s for s in self._support()}
        return BuilderSupport(nodes=(), platforms=tuple(known[str(p)] for p in platforms))

    def native_platform(self) -> Platform:
        return parse_platform(self.recording.run["native_platform"])

    def check(self, plan: Plan, output: Output = PUSH) -> list[PlatformSupport]:
        self._same_plan(plan)
        return list(self._support())

    def commands(self, plan: Plan, output: Output = PUSH) -> list[list[str]]:
        """The recorded argv lists, in the terms of this plan (its project and registry)."""
        image = plan.images[0].name
        return [[from_text(arg, image).replace("{project}", str(plan.root)) for arg in argv]
                for argv in self.recording.run["commands"]]

    def _same_plan(self, plan: Plan) -> None:
        """A replay answers only the plan it was recorded for (anything else was never run)."""
        recorded = self.recording.run["plan"]
        asked = {"version": plan.version.text, "commit": plan.commit,
                 "platforms": [str(p) for p in plan.platforms]}
        wanted = {k: recorded[k] for k in asked}
        if asked != wanted:
            raise RuntimeError(f"recording {self.recording.name} is of {wanted}, not {asked}")

    def _replay(self, events: list[dict[str, Any]], image: ImagePlan,
                client_for: ClientFactory | None) -> Iterator[Event]:
        for item in events:
            kind = item.pop("event")
            if kind == "DigestPushed":
                assert client_for is not None, "podman publishes through dockyard's client"
                manifest = upload_layout(client_for(image.name), image.name.path,
                                         self.recording.layout)
                assert manifest.digest == self.recording.digest, "the layout changed"
                yield DigestPushed(str(image.name), manifest.digest)
            else:
                yield getattr(core.events, kind)(**item)

    def build(
        self, plan: Plan, output: Output = PUSH, *, cancel: threading.Event | None = None,
        client_for: ClientFactory | None = None,
    ) -> Iterator[Event]:
        """The recorded events; each DigestPushed is the recorded layout really uploaded."""
        self._same_plan(plan)
        if not output.pushes:
            raise RuntimeError("the recordings are of pushes only")
        self.builds += 1
        (image,) = plan.images
        events = self.recording.events(image.name)
        cut = self.recording.run.get("cancelled_after")
        yield from self._replay(events[:cut], image, client_for)
        if cut is not None:
            # the recorded cancel landed here: what follows came after it
            if cancel is None or not cancel.wait(self.cancel_wait):
                raise RuntimeError(f"{self.recording.name} was cancelled here; this run was not")
            yield from self._replay(events[cut:], image, client_for)
        error = self.recording.run.get("error")
        if error is not None:
            _raise(error)


def buildx_replay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, build: str | None = None,
                  builder: str = "real") -> BuildxEngine:
    """The real BuildxEngine answered by the stand-in ``docker`` replaying ``../shared``'s
    buildx recordings (``build``: a recording's stem, else it follows the command line)."""
    from core.engines.buildx import BuildxEngine
    from tests.support.buildx import install_standin, write_buildx_state

    standin = install_standin(tmp_path, monkeypatch)
    write_buildx_state(standin.buildx_dir, [builder], builder, build)
    return BuildxEngine(EngineOptions())




# -- what the release tests share: real clients with hooks, and images planted as rivals ----------


class HookedClient(RegistryClient):
    """The real client; ``before_head(ref)``, ``before_put(ref)`` and ``after_put(ref)`` run
    around those calls, so a test can act as a rival release at an exact point of a run."""

    def __init__(self, host: str, *, before_head: Hook | None = None,
                 before_put: Hook | None = None, after_put: Hook | None = None) -> None:
        super().__init__(host)
        self.before_head, self.before_put, self.after_put = before_head, before_put, after_put

    def head_manifest(self, repo: str, ref: str) -> ManifestHead | None:
        if self.before_head is not None:
            self.before_head(ref)
        return super().head_manifest(repo, ref)

    def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> str:
        if self.before_put is not None:
            self.before_put(ref)
        digest = super().put_manifest(repo, ref, raw, media_type)
        if self.after_put is not None:
            self.after_put(ref)
        return digest


def plant(host: str, repo: str, recording: str, *tags: str) -> str:
    """Another release's image (a recorded build's layout) pushed to ``repo`` and tagged with
    ``tags``, straight through the registry API; returns its digest."""
    with RegistryClient(host) as client:
        manifest = upload_layout(client, repo, Recording.load(recording).layout)
        for tag in tags:
            client.put_manifest(repo, tag, manifest.raw, manifest.media_type)
    return manifest.digest


def tag_digest(host: str, repo: str, tag: str) -> str | None:
    with RegistryClient(host) as client:
        head = client.head_manifest(repo, tag)
    return head.digest if head else None
