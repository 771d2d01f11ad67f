"""Run an engine command as a process group dockyard owns, so a cancel really stops the build."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from core.errors import EngineError

#: How long a cancelled build gets to stop after SIGINT before the group is killed.
GRACE_SECONDS = 5.0
_POLL_SECONDS = 0.1
#: One read of the engine's pipe; a batch gathers reads while more is waiting, up to _BATCH_BYTES.
_READ_BYTES = 256 * 1024
_BATCH_BYTES = 1024 * 1024
#: The pipe's buffer: the kernel's default (64 KiB) would cut a flood into many small reads.
_PIPE_BYTES = 1024 * 1024
_TAIL_LINES = 40
#: How often the group's I/O counters are read while watching for a stall.
_IO_SAMPLE_SECONDS = 0.5
#: Bytes read or written that count as progress. An idle podman still reads and writes a few
#: bytes a second (its Go runtime's wake-ups: 6-8 B/s measured with podman 4.3), which must
#: not keep a stalled push alive; a push that moves anything at all moves far more.
PROGRESS_BYTES = 16 * 1024
_SEVERAL_ERRORS = re.compile(r"\d+ errors? occurred:?")


class BuildCancelled(EngineError):
    """The user cancelled; the process group was stopped."""


class CommandStalled(EngineError):
    """A push or pull moved no bytes and printed nothing for too long; the group was stopped."""

    def __init__(self, label: str, seconds: float) -> None:
        self.label = label
        self.seconds = seconds
        super().__init__(
            f"{label} stalled: no output and no data moved for {seconds:g} s",
            "check the connection to the registry and run the release again "
            "(--stall-timeout SECONDS allows longer pauses)",
        )


class CommandTimedOut(EngineError):
    """The command ran past its wall-time limit; the group was stopped."""

    def __init__(self, label: str, seconds: float) -> None:
        self.label = label
        self.seconds = seconds
        super().__init__(
            f"{label} did not finish within its time limit of {seconds:g} s",
            "run the release again with a larger --build-timeout, or without one",
        )


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


def positive_seconds(text: str, field: str) -> float:
    """A number of seconds above zero (a timeout or limit), else an EngineError on ``field``."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise EngineError(f"{text!r} is not a number of seconds", "a number above 0, e.g. 120",
                          field=field)
    return value


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


class StopFlag(Protocol):
    """What stops a stream: a ``threading.Event``, or anything else that can say it is set (the
    Build screen's worker hands over its own cancellation this way)."""

    def is_set(self) -> bool: ...


def stream_lines(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    cancel: StopFlag | None = None,
    grace: float = GRACE_SECONDS,
    label: str | None = None,
    stall_timeout: float | None = None,
    time_limit: float | None = None,
) -> Iterator[str]:
    """``stream_batches`` one line at a time, for callers that handle few lines."""
    for batch in stream_batches(argv, env=env, cwd=cwd, cancel=cancel, grace=grace, label=label,
                                stall_timeout=stall_timeout, time_limit=time_limit):
        yield from batch


def stream_batches(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    cancel: StopFlag | None = None,
    grace: float = GRACE_SECONDS,
    label: str | None = None,
    stall_timeout: float | None = None,
    time_limit: float | None = None,
) -> Iterator[list[str]]:
    """Yield the merged stdout/stderr of ``argv`` as lists of lines, each holding every whole
    line that arrived since the last one (a flood of output is a few big lists, not a million
    items; a quiet build gets its lines as soon as they are printed).

    The command runs in its own session (process group). A set ``cancel``, or closing this
    generator early, sends SIGINT to the whole group, then SIGKILL after ``grace`` seconds, and
    kills whatever is left of the group, so no builder process outlives the run. Raises
    ``BuildCancelled`` after a cancel and ``CommandFailed`` on a non-zero exit; ``label``
    ("podman build") names the command in those errors.

    ``stall_timeout`` (pushes and pulls; None = not watched): the group is stopped the same way
    and ``CommandStalled`` raised once it has printed nothing and moved (next to) no bytes for
    that long. podman is silent between blobs, so bytes count as progress too (``/proc/PID/io``
    of every process in the group). Builds are not watched: a silent link step is healthy.
    ``time_limit`` bounds the total wall time (``CommandTimedOut``).
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
    assert proc.stdout is not None
    pipe = proc.stdout.fileno()
    os.set_blocking(pipe, False)
    _widen(pipe)
    poller = select.poll()
    poller.register(pipe, select.POLLIN)
    partial = b""  # the start of a line whose end has not arrived yet
    tail: list[str] = []
    finished = False
    watch = _StallWatch(proc.pid, stall_timeout) if stall_timeout is not None else None
    started = time.monotonic()
    stopped: EngineError = BuildCancelled(f"{label} was cancelled", "run the release again")
    try:
        while not finished:
            if cancel is not None and cancel.is_set():
                break
            if time_limit is not None and time.monotonic() - started > time_limit:
                stopped = CommandTimedOut(label, time_limit)
                break
            if watch is not None and watch.stalled():
                stopped = CommandStalled(label, watch.timeout)
                break
            if not poller.poll(_POLL_SECONDS * 1000):
                continue
            fresh, finished = _read_waiting(pipe)
            data = partial + fresh
            cut = data.rfind(b"\n")
            whole, partial = (data[:cut], data[cut + 1:]) if cut >= 0 else (b"", data)
            batch = _split(whole.decode("utf-8", errors="replace")) if cut >= 0 else []
            if finished and partial:  # the last line, without its newline
                batch.append(partial.decode("utf-8", errors="replace").rstrip("\r"))
            if watch is not None and fresh:
                watch.progressed()
            if batch:
                tail = [*tail, *batch[-_TAIL_LINES:]][-_TAIL_LINES:]
                yield batch
    finally:
        if not finished:
            stop_group(proc, grace)
        proc.stdout.close()
    if not finished:
        raise stopped
    code = proc.wait()
    _kill_leftovers(proc.pid)
    if code != 0:
        raise CommandFailed(label, code, tail)


class _StallWatch:
    """When the process group last made progress: an output line, or PROGRESS_BYTES read or
    written (``rchar`` + ``wchar``) by its processes together since the last progress. Without
    readable ``/proc/PID/io`` (another user's process, no procfs) only output lines count."""

    def __init__(self, pgid: int, timeout: float) -> None:
        self.pgid = pgid
        self.timeout = timeout
        self.last = time.monotonic()
        self._sampled = self.last
        self._bytes: dict[int, int] = {}
        self._moved = 0  # bytes since the last progress

    def progressed(self) -> None:
        self.last = time.monotonic()
        self._moved = 0

    def stalled(self) -> bool:
        now = time.monotonic()
        if now - self._sampled >= _IO_SAMPLE_SECONDS:
            self._sampled = now
            counters = group_io(self.pgid)
            self._moved += sum(max(0, count - self._bytes.get(pid, 0))
                               for pid, count in counters.items())
            self._bytes = counters
            if self._moved >= PROGRESS_BYTES:
                self.progressed()
        return now - self.last > self.timeout


def group_pids(pgid: int) -> list[int]:
    """Every live process whose process group is ``pgid`` (the 5th field of /proc/PID/stat)."""
    pids = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid).encode() and fields[0] != b"Z":
            pids.append(int(name))
    return pids


def group_io(pgid: int) -> dict[int, int]:
    """``rchar + wchar`` per process of the group, for the processes whose counters we may read."""
    counters: dict[int, int] = {}
    for pid in group_pids(pgid):
        try:
            with open(f"/proc/{pid}/io", encoding="ascii") as handle:
                values = dict(line.split(":", 1) for line in handle if ":" in line)
            counters[pid] = int(values["rchar"]) + int(values["wchar"])
        except (OSError, KeyError, ValueError):
            continue
    return counters


def _read_waiting(pipe: int) -> tuple[bytes, bool]:
    """What the engine has written so far (up to _BATCH_BYTES), and whether its output ended."""
    chunks: list[bytes] = []
    size = 0
    while size < _BATCH_BYTES:
        try:
            data = os.read(pipe, _READ_BYTES)
        except BlockingIOError:
            break
        if not data:
            return b"".join(chunks), True
        chunks.append(data)
        size += len(data)
    return b"".join(chunks), False


def _widen(pipe: int) -> None:
    """Ask for a bigger pipe buffer (Linux), so a flood arrives in big reads; a refusal (the
    system's pipe-max-size, another OS) only costs speed."""
    with contextlib.suppress(AttributeError, OSError):
        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


def _split(text: str) -> list[str]:
    """Lines as the engine ended them with ``\n`` or ``\r\n``, without the ending."""
    lines = text.split("\n")
    if "\r" in text:
        lines = [line.rstrip("\r") for line in lines]
    return lines


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
