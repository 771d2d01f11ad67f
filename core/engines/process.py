"""Run an engine command as a process group dockyard owns, so a cancel really stops the build."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from core.errors import EngineError

#: How long a cancelled build gets to stop after SIGINT before the group is killed.
GRACE_SECONDS = 5.0
_POLL_SECONDS = 0.1
_SEVERAL_ERRORS = re.compile(r"\d+ errors? occurred:?")


class BuildCancelled(EngineError):
    """The user cancelled; the process group was stopped."""


class CommandFailed(EngineError):
    """The engine command exited non-zero; ``tail`` holds its last output lines."""

    def __init__(self, label: str, code: int, tail: Sequence[str]) -> None:
        self.label = label
        self.code = code
        self.tail = list(tail)
        cause = _last_error(tail)
        advice = "see the build log above for the failing step"
        if "cgroup" in cause and label.startswith("podman"):
            advice = ("podman inside a container cannot create cgroups: set "
                      "DOCKYARD_PODMAN_ISOLATION=chroot (README: Podman inside a container)")
        super().__init__(f"{label} exited with {code}: {cause}", advice)


def _last_error(tail: Sequence[str]) -> str:
    """The most telling line: the last one that mentions an error, else the last non-blank one."""
    lines = [line.strip() for line in tail if line.strip()]
    for index in range(len(lines) - 1, -1, -1):
        if "error" in lines[index].lower():
            return _with_causes(lines, index)
    return lines[-1] if lines else "no output"


def _with_causes(lines: list[str], index: int) -> str:
    """Podman and buildah report "2 errors occurred:" with the causes (cgroups, namespaces) on
    the "* ..." lines after it: the header alone says nothing, so they come with it."""
    start = index
    while start >= 0 and lines[start].startswith("*"):
        start -= 1
    if start < 0 or not _SEVERAL_ERRORS.fullmatch(lines[start]):
        return lines[index]
    causes = []
    for line in lines[start + 1:]:
        if not line.startswith("*"):
            break
        causes.append(line.lstrip("* "))
    return f"{lines[start]} {'; '.join(causes)}" if causes else lines[start]


def stream_lines(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    cancel: threading.Event | None = None,
    grace: float = GRACE_SECONDS,
    label: str | None = None,
) -> Iterator[str]:
    """Yield the merged stdout/stderr lines of ``argv`` as they arrive.

    The command runs in its own session (process group). A set ``cancel`` event, or closing this
    generator early, sends SIGINT to the whole group, then SIGKILL after ``grace`` seconds, and
    kills whatever is left of the group, so no builder process outlives the run. Raises
    ``BuildCancelled`` after a cancel and ``CommandFailed`` on a non-zero exit; ``label``
    ("podman build") names the command in those errors.
    """
    label = label or Path(argv[0]).name
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
    except FileNotFoundError as err:
        raise EngineError(
            f"{argv[0]} is not installed", "install it or pick another --engine"
        ) from err
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(proc, lines), daemon=True)
    reader.start()
    tail: list[str] = []
    finished = False
    try:
        while True:
            if cancel is not None and cancel.is_set():
                break
            try:
                line = lines.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            if line is None:
                finished = True
                break
            tail = [*tail[-39:], line]
            yield line
    finally:
        if not finished:
            stop_group(proc, grace)
        reader.join(timeout=grace)
    if not finished:
        raise BuildCancelled(f"{label} was cancelled", "run the release again")
    code = proc.wait()
    _kill_leftovers(proc.pid)
    if code != 0:
        raise CommandFailed(label, code, tail)


def _pump(proc: subprocess.Popen[bytes], lines: queue.Queue[str | None]) -> None:
    """Reader thread: forward decoded lines; ``None`` marks the end of output."""
    assert proc.stdout is not None
    with proc.stdout:
        for raw in proc.stdout:
            lines.put(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
    lines.put(None)


def stop_group(proc: subprocess.Popen[bytes], grace: float = GRACE_SECONDS) -> None:
    """SIGINT the process group (what Ctrl-C would do), SIGKILL it if it lingers."""
    _signal_group(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
    _kill_leftovers(proc.pid)


def _kill_leftovers(pgid: int) -> None:
    """Children that ignored SIGINT or outlived the leader still belong to the group: kill them."""
    _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run_quiet(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """A short probe command (``docker buildx version``); never raises for a missing binary."""
    try:
        return subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout,
            env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL, check=False,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired) as err:
        return subprocess.CompletedProcess(list(argv), 127, "", str(err))
