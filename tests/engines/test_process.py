"""Process control with real process trees: cancel stops the whole group, nothing is left."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from core.engines.process import BuildCancelled, CommandFailed, stream_lines

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
