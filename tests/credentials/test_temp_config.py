"""Where the throw-away docker config lives, and the sweep of the ones killed runs left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import core.secretdir as secretdir
from core.credentials import Credential, temporary_docker_config
from core.secretdir import TEMP_PREFIX, sweep_orphans, temp_bases

REPO = Path(__file__).resolve().parents[2]
GONE_PID = 999_999_999  # above any pid_max: that process cannot exist

HOLD_CONFIG = """
import sys, time
from core.credentials import Credential, temporary_docker_config
with temporary_docker_config([Credential("ghcr.io", "al", "s3cret-token")]) as directory:
    print(directory, flush=True)
    time.sleep(300)
"""


@pytest.fixture
def bases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A runtime dir, a stand-in for /dev/shm that is not a tmpfs, and a TMPDIR, all empty."""
    made = {name: tmp_path / name for name in ("run", "shm", "tmp")}
    for path in made.values():
        path.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(made["run"]))
    monkeypatch.setattr(secretdir, "SHM_DIR", str(made["shm"]))
    monkeypatch.setattr(tempfile, "tempdir", str(made["tmp"]))
    return made


def _memory_shm() -> bool:
    return (os.path.ismount("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK)
            and any(line.split()[1:3] == ["/dev/shm", "tmpfs"]
                    for line in Path("/proc/self/mounts").read_text().splitlines()))


def test_the_runtime_dir_comes_first(bases: dict[str, Path]) -> None:
    assert temp_bases() == [str(bases["run"]), str(bases["tmp"])]


def test_without_a_runtime_dir_and_without_a_tmpfs_it_is_tmpdir(
    bases: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert temp_bases() == [str(bases["tmp"])]  # the stand-in "shm" is no tmpfs mount
    with temporary_docker_config([Credential("ghcr.io", "al", "tok")]) as directory:
        assert directory.parent == bases["tmp"]
    assert list(bases["tmp"].iterdir()) == []


def test_without_a_runtime_dir_the_secret_goes_to_dev_shm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Root in CI has no XDG_RUNTIME_DIR; /dev/shm keeps the secret in memory, off the disk."""
    if not _memory_shm():
        pytest.skip("/dev/shm is not a writable tmpfs on this machine")
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert temp_bases()[0] == "/dev/shm"
    with temporary_docker_config([Credential("ghcr.io", "al", "tok")]) as directory:
        assert directory.parent == Path("/dev/shm")
        assert (directory / "config.json").stat().st_mode & 0o077 == 0
    assert not directory.exists()


def test_the_sweep_removes_dead_runs_in_every_base(bases: dict[str, Path]) -> None:
    orphans = []
    for base in bases.values():
        orphan = base / f"{TEMP_PREFIX}{GONE_PID}-abc"
        orphan.mkdir()
        (orphan / "config.json").write_text('{"auths": {}}')
        orphans.append(orphan)
    alive = bases["run"] / f"{TEMP_PREFIX}{os.getpid()}-mine"  # a run still going: kept
    alive.mkdir()
    unrelated = bases["tmp"] / f"{TEMP_PREFIX}notapid"
    unrelated.mkdir()
    # the stand-in shm is no tmpfs, so only a real /dev/shm would be a base: sweep it by hand
    secretdir.sweep_base(str(bases["shm"]))
    sweep_orphans()
    assert [o for o in orphans if o.exists()] == []
    assert alive.is_dir() and unrelated.is_dir()


def test_the_sweep_never_follows_a_symlink(bases: dict[str, Path], tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep").write_text("keep")
    link = bases["tmp"] / f"{TEMP_PREFIX}{GONE_PID}-link"
    link.symlink_to(precious, target_is_directory=True)
    sweep_orphans()
    assert link.is_symlink()
    assert (precious / "keep").read_text() == "keep"


def test_the_sweep_leaves_other_users_dirs(bases: dict[str, Path]) -> None:
    if os.getuid() != 0:
        pytest.skip("only root can make a dir owned by another user")
    theirs = bases["tmp"] / f"{TEMP_PREFIX}{GONE_PID}-theirs"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    sweep_orphans()
    assert theirs.is_dir()


@pytest.mark.timeout(60)
def test_after_sigkill_the_next_dockyard_command_removes_the_config(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(tmp_path)}
    holder = subprocess.Popen([sys.executable, "-c", HOLD_CONFIG], env=env, cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    directory = Path(holder.stdout.readline().strip())
    assert directory.parent == runtime and (directory / "config.json").is_file()
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    holder.stdout.close()
    assert (directory / "config.json").is_file()  # a killed run cannot clean up

    done = subprocess.run([sys.executable, "-m", "tui.cli", "--version"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not directory.exists()


def test_a_pid_reused_by_a_younger_process_does_not_keep_the_dir(
    bases: dict[str, Path],
) -> None:
    """The run died and its pid now names another, younger process: the dir is an orphan."""
    younger = subprocess.Popen(["sleep", "60"])
    try:
        orphan = bases["tmp"] / f"{TEMP_PREFIX}{younger.pid}-abc"
        orphan.mkdir()
        made = os.stat(orphan).st_mtime - 3600  # made an hour before that process started
        os.utime(orphan, (made, made))
        mine = bases["tmp"] / f"{TEMP_PREFIX}{os.getpid()}-mine"  # made after this one started
        mine.mkdir()
        sweep_orphans()
        assert not orphan.exists()
        assert mine.is_dir()
    finally:
        younger.kill()
        younger.wait()
