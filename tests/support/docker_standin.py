#!/usr/bin/env python3
"""A stand-in ``docker`` (buildx only) that replays real recordings, for tests on machines
without buildx.

Every byte it prints comes from ``../shared/fixtures/buildx/v0.36-remote`` (a real buildx 0.36.1
with a remote BuildKit and no Docker daemon). Which recording answers is decided the way buildx
decides: from the buildx state on disk (``$BUILDX_CONFIG``, else ``$DOCKER_CONFIG/buildx``, else
``~/.docker/buildx``): ``instances/NAME`` files are the builders, ``current`` names the current one.
A builder answers as the recorded builder of the same name (``real``, ``second``: running;
``dead``: a remote endpoint nobody listens on); a name with no instance file gets the recorded
``no builder "nosuch" found`` with ``nosuch`` replaced by the asked name, the one thing the
recordings' .cmd show varying. ``default`` (the Docker daemon's builder) is broken, as recorded.

A test may pick the build recording by writing its stem to ``$BUILDX_CONFIG/standin-build``
(e.g. ``build-fail-rawjson``); otherwise it follows the command line (``--load`` and the
provenance flag, a push by digest for one platform, the progress format). Recordings of a
cancel stop at the point the signal was sent and wait for SIGINT/SIGTERM before printing the rest.

Each call is appended to ``$DOCKER_STANDIN_CALLS`` (JSON lines: argv, environment).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

RECORDINGS = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "buildx" / "v0.36-remote"
NO_RECORDING = 97  # the stand-in's own exit code: this situation was never recorded


class Recording:
    def __init__(self, stem: str) -> None:
        self.stem = stem
        self.stdout = (RECORDINGS / f"{stem}.stdout").read_bytes()
        self.stderr = (RECORDINGS / f"{stem}.stderr").read_bytes()
        self.rc = int((RECORDINGS / f"{stem}.rc").read_text().strip())

    def metadata(self) -> Path | None:
        found = sorted(RECORDINGS.glob(f"{self.stem}.meta*.json"))
        return found[0] if found else None


def buildx_dir() -> Path:
    if os.environ.get("BUILDX_CONFIG"):
        return Path(os.environ["BUILDX_CONFIG"])
    if os.environ.get("DOCKER_CONFIG"):
        return Path(os.environ["DOCKER_CONFIG"]) / "buildx"
    return Path.home() / ".docker" / "buildx"


def builders(state: Path) -> list[str]:
    instances = state / "instances"
    return sorted(p.name for p in instances.iterdir()) if instances.is_dir() else []


def current(state: Path) -> str:
    try:
        data = json.loads((state / "current").read_text())
    except (OSError, ValueError):
        return "default"
    name = data.get("Name") if isinstance(data, dict) else None
    return name or "default"


def unrecorded(what: str) -> None:
    sys.stderr.write(f"docker stand-in: no recording for {what}\n")
    sys.exit(NO_RECORDING)


def emit(rec: Recording, replace: tuple[bytes, bytes] | None = None) -> None:
    out, err = rec.stdout, rec.stderr
    if replace is not None:
        out, err = out.replace(*replace), err.replace(*replace)
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    sys.stderr.buffer.write(err)
    sys.stderr.flush()
    sys.exit(rec.rc)


def missing(name: str, stem: str = "inspect-nosuch") -> None:
    emit(Recording(stem), (b'"nosuch"', f'"{name}"'.encode()))


def option(args: list[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def cmd_ls(args: list[str], state: Path) -> None:
    names = set(builders(state))
    fmt = "-json" if option(args, "--format") == "json" else ""
    for path in sorted(RECORDINGS.glob(f"ls-*{fmt}.cmd")):
        stem = path.name[: -len(".cmd")]
        if fmt == "" and stem.endswith("-json"):
            continue
        twin = stem if fmt else stem + "-json"  # the JSON twin says which builders it shows
        if not (RECORDINGS / f"{twin}.cmd").exists():
            continue
        rec = Recording(stem)
        listed = _ls_names(Recording(twin)) - {"default"}
        if listed == names:
            emit(rec)
    unrecorded(f"`buildx ls` with builders {sorted(names)}")


def _ls_names(rec: Recording) -> set[str]:
    return {json.loads(line)["Name"] for line in rec.stdout.decode().splitlines() if line}


def cmd_inspect(args: list[str], state: Path) -> None:
    rest = [a for a in args if not a.startswith("-")]
    name = option(args, "--builder") or (rest[0] if rest else current(state))
    if name != "default" and name not in builders(state):
        missing(name)
    stem = f"inspect-bootstrap-{name}" if "--bootstrap" in args else f"inspect-{name}"
    if not (RECORDINGS / f"{stem}.cmd").exists():
        unrecorded(f"`buildx inspect` of builder {name!r}")
    emit(Recording(stem))


def build_stem(args: list[str], state: Path) -> str:
    name = option(args, "--builder") or current(state)
    if name != "default" and name not in builders(state):
        missing(name, "build-builder-nosuch")
    if name == "default" or not (RECORDINGS / f"inspect-bootstrap-{name}.cmd").exists():
        unrecorded(f"a build on builder {name!r}")
    if Recording(f"inspect-bootstrap-{name}").rc != 0:
        return f"build-{name}-builder"
    chosen = state / "standin-build"
    if chosen.is_file():
        return chosen.read_text().strip()
    progress = option(args, "--progress") or "auto"
    if "--load" in args:
        provenance = "--provenance=true" in args
        return "load-provenance-true" if provenance else "load-provenance-false"
    platforms = (option(args, "--platform") or "").split(",")
    if "push-by-digest=true" in (option(args, "--output") or "") and len(platforms) == 1:
        return f"pbd-build-{platforms[0].rsplit('/', 1)[-1]}"
    return "build-push-rawjson" if progress == "rawjson" else "build-push-plain"


def cmd_build(args: list[str], state: Path) -> None:
    stem = build_stem(args, state)
    if not (RECORDINGS / f"{stem}.cmd").exists():
        unrecorded(f"build {stem!r}")
    rec = Recording(stem)
    if stem.startswith("cancel-"):
        _replay_cancel(rec)
    metadata = option(args, "--metadata-file")
    source = rec.metadata()
    if rec.rc == 0 and metadata and source is not None:
        shutil.copyfile(source, metadata)
    emit(rec)


def _replay_cancel(rec: Recording) -> None:
    """Print up to where the recorded signal landed, wait for one, then print the rest."""
    lines = rec.stderr.splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines)
               if b"CANCELED" in line or b"context canceled" in line)
    got = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: got.set())
    sys.stderr.buffer.write(b"".join(lines[:cut]))
    sys.stderr.flush()
    got.wait(120)
    sys.stderr.buffer.write(b"".join(lines[cut:]))
    sys.stderr.flush()
    sys.exit(rec.rc)


def main(argv: list[str]) -> None:
    calls = os.environ.get("DOCKER_STANDIN_CALLS")
    if calls:
        with open(calls, "a", encoding="utf-8") as log:
            log.write(json.dumps({"argv": argv, "env": dict(os.environ)}) + "\n")
    args = list(argv)
    config = None
    while args[:1] in (["--config"], ["--context"]):  # docker's global flags
        config = args[1] if args[0] == "--config" else config
        args = args[2:]
    if config is not None and not os.environ.get("BUILDX_CONFIG"):
        os.environ["DOCKER_CONFIG"] = config  # buildx then looks in <config>/buildx
    state = buildx_dir()
    if args[:2] == ["buildx", "version"]:
        emit(Recording("version"))
    if args[:2] == ["buildx", "ls"]:
        cmd_ls(args[2:], state)
    if args[:2] == ["buildx", "inspect"]:
        cmd_inspect(args[2:], state)
    if args[:2] == ["buildx", "build"]:
        cmd_build(args[2:], state)
    unrecorded(" ".join(args[:3]))


if __name__ == "__main__":
    main(sys.argv[1:])
