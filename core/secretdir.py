"""Where the throw-away docker config (it holds base64 ``user:password``) is written, and the
sweep that removes the ones of runs killed before they could clean up.

Kept apart from credentials.py and light on imports: every dockyard command sweeps first, so
this must not slow down ``dockyard --version``.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile

TEMP_PREFIX = "dockyard-auth-"  # then "<pid>-<random>": the pid tells whether the run is alive
SHM_DIR = "/dev/shm"


def temp_bases() -> list[str]:
    """Where a throw-away config may live, best first: ``$XDG_RUNTIME_DIR`` (per-user tmpfs),
    ``/dev/shm`` when it is a writable tmpfs (memory; root in CI has no runtime dir), else the
    temp dir (``$TMPDIR``). A secret kept in memory never reaches a disk, even when the run is
    killed before it can remove it."""

    bases = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and _usable(runtime):
        bases.append(runtime)
    if _usable(SHM_DIR) and _is_tmpfs(SHM_DIR):
        bases.append(SHM_DIR)
    bases.append(tempfile.gettempdir())
    return list(dict.fromkeys(bases))


def _usable(path: str) -> bool:
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def _is_tmpfs(path: str) -> bool:
    """Whether ``path`` is a tmpfs mount point, so what is written there lives in memory."""
    try:
        with open("/proc/self/mounts", encoding="utf-8") as mounts:
            return any(line.split()[1:3] == [path, "tmpfs"] for line in mounts)
    except OSError:
        return False


def sweep_orphans() -> None:
    """Remove the config dirs of dockyard runs that died without cleaning up (SIGKILL, a crash)
    from every place ``temp_bases`` may put them: one directory listing per place."""
    for base in temp_bases():
        sweep_base(base)


def sweep_base(base: str) -> None:
    """Remove ``base``'s config dirs whose run is gone (its pid no longer exists, or now names a
    process younger than the dir); only real directories (a symlink is never followed) owned by
    this user."""
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        if not name.startswith(TEMP_PREFIX):
            continue
        pid_text = name[len(TEMP_PREFIX):].split("-", 1)[0]
        path = os.path.join(base, name)
        if not pid_text.isdigit():
            continue
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue
        if _run_alive(int(pid_text), info.st_mtime):
            continue

        shutil.rmtree(path, ignore_errors=True)


def _run_alive(pid: int, made: float) -> bool:
    """Whether the run that made a dir at time ``made`` may still be going: its pid exists and
    is not a younger process that got the pid later."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process holds the pid now: its age tells
    return not _started_after(pid, made)


def _started_after(pid: int, when: float) -> bool:
    """Whether process ``pid`` started after ``when`` (a dir's time), i.e. the pid was reused by
    another process since the run that made the dir died. False when it cannot be told."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            ticks = int(handle.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/stat", "rb") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith(b"btime "))
    except (OSError, IndexError, ValueError, StopIteration):
        return False
    return boot + ticks / os.sysconf("SC_CLK_TCK") > when + 2  # start time has 1 s grain
