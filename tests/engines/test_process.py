"""Process control with real process trees: cancel stops the whole group, nothing is left."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from core.engines.process import (
    BuildCancelled,
    CommandFailed,
    CommandStalled,
    CommandTimedOut,
    stream_lines,
)

# A stand-in for a builder: a shell that starts a child shell, which starts sleeps (grandchildren),
# and records every pid. With IGNORE_INT set, all of them ignore SIGINT (a stuck builder); the
# background sleeps ignore it anyway (POSIX shells do that for async lists), so they only go
# because the whole group is killed.
TREE = r"""
pids="$1"
if [ -n "$IGNORE_INT" ]; then
  trap '' INT
else
  trap 'echo got-int >> "$pids.signals"; exit 130' INT
fi
echo $$ >> "$pids"
sh -c '[ -n "$IGNORE_INT" ] && trap "" INT
  sleep 300 & echo $! >> "$0"
  sleep 300 & echo $! >> "$0"
  echo $$ >> "$0"; wait' "$pids" &
sleep 300 &
echo $! >> "$pids"
echo started
wait
"""


def alive(pid: int) -> bool:
    """Running and not a zombie (a reaped or zombie process is gone for our purpose)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_gone(pids: list[int], limit: float = 10) -> list[int]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        left = [pid for pid in pids if alive(pid)]
        if not left:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


def read_pids(path: Path, count: int) -> list[int]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pids = [int(x) for x in path.read_text().split()] if path.exists() else []
        if len(pids) >= count:
            return pids
        time.sleep(0.02)
    raise AssertionError(f"only {path.read_text() if path.exists() else ''} started")


def start_tree(tmp_path: Path, *, ignore_int: bool, cancel: threading.Event, grace: float = 5.0):
    pids = tmp_path / "pids"
    env = {**os.environ, "IGNORE_INT": "1" if ignore_int else ""}
    lines = stream_lines(["sh", "-c", TREE, "tree", str(pids)], env=env, cancel=cancel,
                         grace=grace)
    assert next(lines) == "started"
    return lines, pids


@pytest.mark.timeout(60)
def test_cancel_sends_sigint_to_the_group_and_leaves_nothing(tmp_path: Path) -> None:
    cancel = threading.Event()
    lines, pid_file = start_tree(tmp_path, ignore_int=False, cancel=cancel)
    pids = read_pids(pid_file, 5)
    assert all(alive(pid) for pid in pids)
    cancel.set()
    with pytest.raises(BuildCancelled):
        list(lines)
    assert wait_gone(pids) == []
    assert "got-int" in (tmp_path / "pids.signals").read_text()  # SIGINT came first


@pytest.mark.timeout(60)
def test_a_process_ignoring_sigint_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    cancel = threading.Event()
    lines, pid_file = start_tree(tmp_path, ignore_int=True, cancel=cancel, grace=0.5)
    pids = read_pids(pid_file, 5)
    cancel.set()
    with pytest.raises(BuildCancelled):
        list(lines)
    assert wait_gone(pids) == []
    assert not (tmp_path / "pids.signals").exists()  # it did ignore SIGINT


@pytest.mark.timeout(60)
def test_closing_the_stream_early_stops_the_group(tmp_path: Path) -> None:
    lines, pid_file = start_tree(tmp_path, ignore_int=True, cancel=threading.Event(), grace=0.5)
    pids = read_pids(pid_file, 5)
    lines.close()  # a consumer that stops watching must not leave the build running
    assert wait_gone(pids) == []


@pytest.mark.timeout(60)
def test_lines_arrive_while_the_process_still_runs(tmp_path: Path) -> None:
    go = tmp_path / "go"
    script = f"echo first; while [ ! -e {go} ]; do sleep 0.05; done; echo second"
    lines = stream_lines(["sh", "-c", script])
    assert next(lines) == "first"  # would block forever if output were buffered to the end
    go.touch()
    assert list(lines) == ["second"]


def test_failure_reports_the_last_error_line() -> None:
    script = "echo step one; echo 'ERROR: failed to solve: exit code: 3' >&2; echo bye; exit 3"
    with pytest.raises(CommandFailed) as caught:
        list(stream_lines(["sh", "-c", script]))
    assert caught.value.code == 3
    assert "ERROR: failed to solve: exit code: 3" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_binary_is_an_engine_error() -> None:
    with pytest.raises(Exception, match="is not installed"):
        list(stream_lines([str(Path(sys.prefix) / "no-such-binary")]))


# -- stalls and time limits -------------------------------------------------------------------

# A stand-in for a push that hangs: says something, records its pid, then sleeps without any I/O.
STALLER = r"""
import sys, time
open(sys.argv[1], "w").write(str(__import__("os").getpid()))
print("pushing blob", flush=True)
time.sleep(300)
"""

# A stand-in for podman between blobs: silent on stdout, but a child keeps writing a file.
SILENT_WRITER = r"""
import sys, time
with open(sys.argv[1], "wb") as out:
    for _ in range(int(sys.argv[2])):
        out.write(b"x" * 4096)
        out.flush()
        time.sleep(0.05)
"""


def _stalling(tmp_path: Path) -> tuple[list[str], Path]:
    pid_file = tmp_path / "staller.pid"
    return [sys.executable, "-c", STALLER, str(pid_file)], pid_file


@pytest.mark.timeout(60)
def test_a_silent_idle_push_is_stopped_as_stalled_and_leaves_nothing(tmp_path: Path) -> None:
    argv, pid_file = _stalling(tmp_path)
    lines = stream_lines(argv, stall_timeout=1.0, label="podman manifest push")
    assert next(lines) == "pushing blob"
    pid = int(pid_file.read_text())
    with pytest.raises(CommandStalled) as caught:
        list(lines)
    assert "podman manifest push stalled" in str(caught.value)
    assert "for 1 s" in str(caught.value)
    assert wait_gone([pid]) == []


@pytest.mark.timeout(60)
def test_a_stall_reaches_children_that_ignore_sigint(tmp_path: Path) -> None:
    env = {**os.environ, "IGNORE_INT": "1"}
    pids = tmp_path / "pids"
    lines = stream_lines(["sh", "-c", TREE, "tree", str(pids)], env=env, stall_timeout=1.0,
                         grace=0.5)
    assert next(lines) == "started"
    tree = read_pids(pids, 5)
    with pytest.raises(CommandStalled):
        list(lines)
    assert wait_gone(tree) == []


@pytest.mark.timeout(60)
def test_bytes_written_by_a_child_count_as_progress(tmp_path: Path) -> None:
    """Silent for about 3 s, three times the stall timeout, yet writing: not a stall."""
    out = tmp_path / "blob"
    script = f'"$0" -c "$1" {out} 60; echo done'
    lines = stream_lines(["sh", "-c", script, sys.executable, SILENT_WRITER], stall_timeout=1.0)
    assert list(lines) == ["done"]
    assert out.stat().st_size == 60 * 4096


@pytest.mark.timeout(60)
def test_without_readable_io_counters_only_output_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where /proc/PID/io cannot be read (another user's process), silence is a stall."""
    import core.engines.process as process

    monkeypatch.setattr(process, "group_io", lambda pgid: {})
    out = tmp_path / "blob"
    script = f'"$0" -c "$1" {out} 600; echo done'
    lines = stream_lines(["sh", "-c", script, sys.executable, SILENT_WRITER], stall_timeout=1.0)
    with pytest.raises(CommandStalled):
        list(lines)


@pytest.mark.timeout(60)
def test_builds_are_not_stall_checked_by_default(tmp_path: Path) -> None:
    lines = stream_lines(["sh", "-c", "sleep 1.5; echo linked"])
    assert list(lines) == ["linked"]


@pytest.mark.timeout(60)
def test_the_time_limit_stops_a_busy_command(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = f"echo $$ > {pid_file}; while :; do echo compiling; sleep 0.05; done"
    lines = stream_lines(["sh", "-c", script], time_limit=1.0, stall_timeout=0.5,
                         label="podman build")
    with pytest.raises(CommandTimedOut) as caught:
        list(lines)  # it keeps printing: never a stall, only the wall time stops it
    assert "podman build did not finish within its time limit of 1 s" in str(caught.value)
    assert wait_gone([int(pid_file.read_text())]) == []


@pytest.mark.timeout(60)
def test_group_io_sees_every_process_of_the_group(tmp_path: Path) -> None:
    from core.engines.process import group_io, group_pids

    pids = tmp_path / "pids"
    cancel = threading.Event()
    lines = stream_lines(["sh", "-c", TREE, "tree", str(pids)],
                         env={**os.environ, "IGNORE_INT": ""}, cancel=cancel)
    assert next(lines) == "started"
    tree = read_pids(pids, 5)
    leader = tree[0]
    assert set(tree) <= set(group_pids(leader))
    assert set(tree) <= set(group_io(leader))
    cancel.set()
    with pytest.raises(BuildCancelled):
        list(lines)
    assert wait_gone(tree) == []


@pytest.mark.timeout(60)
def test_a_trickle_of_bytes_like_an_idle_runtime_is_still_a_stall(tmp_path: Path) -> None:
    """An idle podman's Go runtime reads and writes a few bytes a second: not progress."""
    trickle = ("import time\nwith open(__import__('sys').argv[1], 'wb', 0) as out:\n"
               "    while True:\n        out.write(b'12345678'); time.sleep(0.2)\n")
    lines = stream_lines([sys.executable, "-c", trickle, str(tmp_path / "t")], stall_timeout=1.5)
    with pytest.raises(CommandStalled):
        list(lines)


def test_several_errors_come_with_their_causes() -> None:
    """Podman inside a container: a RUN step's "2 errors occurred:" is shown with the causes
    from the "* ..." lines (here cgroups), not alone (issue 12)."""
    script = (
        "echo 'STEP 2/2: RUN make'; "
        "echo 'Error: building at STEP \"RUN make\": while running runtime: exit status 1'; "
        "echo '2 errors occurred:'; "
        "printf '\\t* crun: creating cgroup directory `/sys/fs/cgroup/libpod`: Read-only file "
        "system\\n'; "
        "printf '\\t* OCI runtime attempted to invoke a command that was not found\\n'; "
        "exit 125"
    )
    with pytest.raises(CommandFailed) as caught:
        list(stream_lines(["sh", "-c", script], label="podman build"))
    message = str(caught.value)
    assert message.startswith("engine: podman build exited with 125: 2 errors occurred: crun: "
                              "creating cgroup directory `/sys/fs/cgroup/libpod`: Read-only "
                              "file system; OCI runtime attempted")
    assert message.endswith("; podman inside a container cannot create cgroups: set "
                            "DOCKYARD_PODMAN_ISOLATION=chroot (README: Podman inside a container)")
    assert "\n" not in message
