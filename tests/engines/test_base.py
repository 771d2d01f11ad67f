"""Engine options, outputs and the headless renderer of the event stream."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from core.engines.base import EngineOptions, parse_output
from core.errors import EngineError
from core.events import (
    DigestPushed,
    LogLine,
    PhaseStarted,
    ReleaseFailed,
    ReleaseFinished,
    StepFinished,
    StepStarted,
    format_event,
)
from tui.headless import print_events


def test_machine_options_come_from_the_environment() -> None:
    env = {"DOCKYARD_PODMAN_STORAGE_DRIVER": "vfs", "DOCKYARD_PODMAN_ISOLATION": "chroot",
           "DOCKYARD_PODMAN_ROOT": "/srv/p", "DOCKYARD_BUILDX_BUILDER": "ci"}
    options = EngineOptions.from_env(env, insecure_registries=("lan:5000",))
    assert (options.storage_driver, options.isolation, options.builder) == ("vfs", "chroot", "ci")
    assert options.podman_root == Path("/srv/p")
    assert options.insecure_registries == ("lan:5000",)
    assert EngineOptions.from_env({}).storage_driver is None


def test_plain_http_only_for_loopback_or_named_registries() -> None:
    options = EngineOptions(insecure_registries=("lan:5000",))
    assert options.is_insecure("127.0.0.1:5000")
    assert options.is_insecure("localhost:5000")
    assert options.is_insecure("lan:5000")
    assert not options.is_insecure("ghcr.io")
    assert not options.is_insecure("lan:5001")


def test_outputs() -> None:
    assert parse_output(None).pushes
    archive = parse_output("oci-archive:out/app.tar")
    assert archive.kind == "oci-archive" and archive.path == Path("out/app.tar").resolve()
    load = parse_output(None, "linux/arm64")
    assert load.kind == "load" and str(load.platform) == "linux/arm64"
    with pytest.raises(EngineError, match="oci-archive:PATH"):
        parse_output("docker:foo")


def test_headless_lines_and_exit_codes() -> None:
    assert format_event(PhaseStarted("build")) == "== build"
    assert format_event(StepStarted("#5", "[linux/amd64 1/1] COPY a /a", "linux/amd64")) == (
        " > [linux/amd64] #5 [linux/amd64 1/1] COPY a /a")
    assert "cached" in (format_event(StepFinished("#5", "COPY", cached=True)) or "")
    assert format_event(LogLine("x86_64", step="#7")) == "   #7 x86_64"
    out = io.StringIO()
    failed = [ReleaseFailed("build", "engine: podman build exited with 125", "latest unchanged"),
              ReleaseFinished(ok=False, report_path="/r.json")]
    assert print_events(iter(failed), as_json=False, out=out) == 1
    assert "release FAILED in phase build" in out.getvalue()
    assert "registry now: latest unchanged" in out.getvalue()
    out = io.StringIO()
    done = [DigestPushed("r/a:1.0.0", "sha256:" + "a" * 64), ReleaseFinished(ok=True)]
    assert print_events(iter(done), as_json=True, out=out) == 0
    assert out.getvalue().splitlines()[-1] == (
        '{"event": "ReleaseFinished", "ok": true, "report_path": "", "run": "release"}')
    promoted = ReleaseFinished(ok=True, report_path="/r.json", run="promote")
    assert format_event(promoted) == "promote ok; report: /r.json"
    assert print_events(iter([]), as_json=True, out=io.StringIO()) == 1  # no finish: not ok
