"""A real ``dockyard release --yes`` stopped by signals the way CI runners stop jobs.

Each test runs the CLI as a child process with a login stored in the real keyring (so a
throw-away credential dir exists), real podman with storage of its own, and a real registry
behind a proxy that can hold chosen requests: holding the base image's blobs keeps the build
running, holding an alias PUT keeps the alias phase running, for as long as the test needs.
Then it sends the signal and checks the promise: exit code 128 + signal, a report that says
which phase failed, no credential dir left, no podman process of the run left.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from core.credentials import Credential, CredentialStore
from core.engines.process import group_pids
from tests.credentials.support import SECRET, USER, make_oci_layout, skopeo_push
from tests.registry.proxy import FaultProxy, _ProxyHandler, running
from tests.support.elf import write_elf
from tests.support.gitrepo import git, make_repo
from tests.support.podman import podman_storage
from tests.support.registry import RunningRegistry

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
HOLD_LIMIT = 120.0  # a held request goes on by itself after this, so no proxy thread is stuck


class HoldingProxy(FaultProxy):
    """The fault proxy, plus holds: a request matching one waits (up to HOLD_LIMIT) until
    ``release`` is set, and sets that hold's event to say it is waiting."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self._server.RequestHandlerClass = _HoldingHandler
        # a held request's client is often gone when it is let through: no traceback for that
        self._server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.holds: list[tuple[str, str, threading.Event]] = []
        self.release = threading.Event()
        self.dropped = False

    def drop_held(self) -> None:
        """End of test: held requests are answered with a reset, not passed on late (a push the
        test stopped must not land in the registry after all)."""
        self.dropped = True
        self.release.set()

    def hold(self, method: str, part: str) -> threading.Event:
        """Hold ``method`` requests whose path ends with ``part`` (contains it, when ``part``
        ends with "/"); the event is set once one is held."""
        held = threading.Event()
        self.holds.append((method, part, held))
        return held

    def matching(self, method: str, path: str) -> threading.Event | None:
        path = path.split("?", 1)[0]
        for want, part, held in list(self.holds):
            if method == want and (path.endswith(part) or (part.endswith("/") and part in path)):
                return held
        return None


class _HoldingHandler(_ProxyHandler):
    def _handle(self) -> None:
        """podman uploads layers chunked (no Content-Length): de-chunk them for the proxy."""
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            super()._handle()
            return
        body = _read_chunked(self.rfile)
        del self.headers["Transfer-Encoding"]
        self.headers["Content-Length"] = str(len(body))
        real, self.rfile = self.rfile, io.BytesIO(body)
        try:
            super()._handle()
        finally:
            self.rfile = real

    def _forward(self, upstream: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        proxy: HoldingProxy = self.server.owner  # type: ignore[attr-defined]
        # podman sends one Accept header per media type; forwarded as a dict only the last
        # would reach the registry (which then answers a schema 1 manifest): join them.
        accepts = self.headers.get_all("Accept") or []
        if len(accepts) > 1:
            del self.headers["Accept"]
            self.headers["Accept"] = ", ".join(accepts)
        held = proxy.matching(self.command, self.path)
        if held is not None:
            held.set()
            proxy.release.wait(HOLD_LIMIT)
            if proxy.dropped:
                raise ConnectionResetError("dropped by the test")
        return super()._forward(upstream, body)


def _read_chunked(stream: BinaryIO) -> bytes:
    body = b""
    while True:
        size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline().strip():  # trailers, up to the blank line
                pass
            return body
        body += stream.read(size)
        stream.readline()


@dataclass
class Setup:
    proxy: HoldingProxy
    env: dict[str, str]
    runtime: Path
    reports: Path
    podman_root: Path
    tmp: Path

    def project(self, *, from_base: bool) -> Path:
        """A copy-mode project tagged v1.0.0. ``from_base``: its image builds FROM the base
        image on the proxied registry, so holding those blobs holds the build (the build cannot
        finish: the base's config has no history); else FROM scratch, a build that works."""
        project = make_repo(self.tmp / "project")
        base = f"{self.proxy.host}/signals/base:1" if from_base else "scratch"
        (project / "Dockerfile").write_text(
            f"FROM {base}\nARG TARGETARCH\nCOPY dist/${{TARGETARCH}}/app /app\n")
        write_elf(project / "dist/amd64/app", "x86-64")
        git(project, "add", "-A")
        git(project, "commit", "-q", "-m", "project")
        git(project, "tag", "-a", "v1.0.0", "-m", "v1.0.0")
        return project


@pytest.fixture
def proxy(registry: RunningRegistry) -> Iterator[HoldingProxy]:
    holding = HoldingProxy(registry.host)
    with running(holding):
        try:
            yield holding
        finally:
            holding.drop_held()


@pytest.fixture
def setup(
    store: CredentialStore, service: str, registry: RunningRegistry, proxy: HoldingProxy,
    tmp_path: Path,
) -> Iterator[Setup]:
    """A base image on the proxied registry, a stored login for that registry, and the
    environment of a dockyard child (own HOME, runtime dir, report dir, keyring service and
    podman storage)."""
    store.save(Credential(proxy.host, USER, SECRET))  # the registry itself has no auth
    home, runtime, state = tmp_path / "home", tmp_path / "run", tmp_path / "state"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    base = make_oci_layout(tmp_path / "base", "signals base layer\n")
    pushed = skopeo_push(base, registry, "signals/base:1", env=dict(os.environ))
    assert pushed.returncode == 0, pushed.stderr
    registries_conf = tmp_path / "registries.conf"
    registries_conf.write_text(f'[[registry]]\nlocation = "{proxy.host}"\ninsecure = true\n')
    with podman_storage("dy-sig-") as root:
        env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime),
               "XDG_STATE_HOME": str(state), "DOCKYARD_KEYRING_SERVICE": service,
               "CONTAINERS_REGISTRIES_CONF": str(registries_conf),
               "DOCKYARD_PODMAN_STORAGE_DRIVER": "vfs", "DOCKYARD_PODMAN_ISOLATION": "chroot",
               "DOCKYARD_PODMAN_ROOT": str(root)}
        for name in ("DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "DOCKYARD_STALL_TIMEOUT"):
            env.pop(name, None)
        yield Setup(proxy, env, runtime, state / "dockyard" / "runs", root, tmp_path)
        _kill_podman_of(root)  # only ever needed after the SIGKILL test


class Run:
    """``dockyard release --yes`` as a child process; its output goes to files."""

    def __init__(self, setup: Setup, image: str, *, from_base: bool = True,
                 extra: tuple[str, ...] = ()) -> None:
        project = setup.project(from_base=from_base)
        self.out, self.err = setup.tmp / "stdout", setup.tmp / "stderr"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tui.cli", "release", "--yes", "--engine", "podman",
                 "--repo", str(project), "--image", f"{setup.proxy.host}/{image}",
                 "--platform", "linux/amd64", "--mode", "copy", "--binary", "dist/{arch}/app",
                 *extra],
                env=setup.env, cwd=REPO, stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_for_stderr(self, text: str, limit: float = 30.0) -> None:
        deadline = time.monotonic() + limit
        while text not in self.stderr():
            assert self.proc.poll() is None, f"exited early:\n{self.stdout()}\n{self.stderr()}"
            assert time.monotonic() < deadline, f"{text!r} not seen:\n{self.stderr()}"
            time.sleep(0.02)

    def podman_groups(self) -> list[int]:
        """The process groups of the podman children dockyard started (each is a leader)."""
        return [pid for pid in _pids() if _ppid(pid) == self.proc.pid
                and b"podman" in _cmdline(pid)]

    def signal(self, sig: signal.Signals) -> float:
        """Send ``sig``, wait (bounded) for the exit; the seconds it took."""
        sent = time.monotonic()
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)
        return time.monotonic() - sent


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _podman_of(root: Path) -> list[int]:
    """Live podman processes using this test's storage root."""
    needle = str(root).encode()
    return [pid for pid in _pids() if b"podman" in _cmdline(pid) and needle in _cmdline(pid)]


def _kill_podman_of(root: Path) -> None:
    for pid in _podman_of(root):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue


def _wait(condition: threading.Event, what: str, run: Run, limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while not condition.wait(0.05):
        if run.proc.poll() is None and time.monotonic() < deadline:
            continue
        run.proc.kill()
        raise AssertionError(f"{what} never happened:\n{run.stdout()}\n{run.stderr()}")


def _credential_dirs(setup: Setup) -> list[Path]:
    return sorted(setup.runtime.glob("dockyard-auth-*"))


def _report(setup: Setup) -> dict[str, Any]:
    (path,) = setup.reports.glob("*.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _wait_gone(pgids: list[int], limit: float = 10.0) -> list[int]:
    """Group members still alive after a bounded wait (a just-killed process may linger a
    moment as it is torn down)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        left = [pid for pgid in pgids for pid in group_pids(pgid)]
        if not left:
            return []
        time.sleep(0.05)
    return [pid for pgid in pgids for pid in group_pids(pgid)]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
                         ids=lambda s: s.name)
def test_a_signal_during_the_build_stops_podman_cleans_up_and_reports(
    setup: Setup, sig: signal.Signals,
) -> None:
    pulling = setup.proxy.hold("GET", "/signals/base/blobs/")  # the build's pull of the base
    run = Run(setup, f"signals/build-{sig.name.lower()}")
    _wait(pulling, "the build's pull of the base image", run)
    groups = run.podman_groups()
    assert groups, "podman build is running"
    dirs = _credential_dirs(setup)
    assert len(dirs) == 1 and (dirs[0] / "config.json").is_file()  # the secret is on disk now

    seconds = run.signal(sig)
    print(f"{sig.name} during build: exit {seconds:.2f} s after the signal")  # for -s runs

    assert run.proc.returncode == 128 + sig, run.stdout() + run.stderr()
    assert "Traceback" not in run.stderr()
    assert f"{sig.name}: stopping the release" in run.stderr()
    assert "release FAILED in phase build" in run.stdout()
    assert _credential_dirs(setup) == []
    report = _report(setup)
    assert report["ok"] is False
    assert report["failure"]["phase"] == "build"
    assert "cancelled" in report["failure"]["error"]
    assert _wait_gone(groups) == []
    assert _podman_of(setup.podman_root) == []


@pytest.mark.timeout(300)
def test_sigterm_during_the_alias_phase_stops_before_the_next_alias(
    setup: Setup,
) -> None:
    moving = threading.Event()
    for alias in ("latest", "1", "1.0"):  # whichever alias goes first is held
        setup.proxy.holds.append(("PUT", f"/signals/aliases/manifests/{alias}", moving))
    run = Run(setup, "signals/aliases", from_base=False)
    _wait(moving, "an alias PUT", run, limit=240)
    assert len(_credential_dirs(setup)) == 1

    sent = time.monotonic()
    run.proc.send_signal(signal.SIGTERM)
    run.wait_for_stderr("SIGTERM: stopping the release")  # the cancel is set before the PUT ends
    setup.proxy.release.set()
    run.proc.wait(timeout=60)
    print(f"SIGTERM during aliases: exit {time.monotonic() - sent:.2f} s after the signal")

    assert run.proc.returncode == 143, run.stdout() + run.stderr()
    assert "release FAILED in phase aliases" in run.stdout()
    aliases = [s.path for s in setup.proxy.requests("PUT")
               if setup.proxy.matching("PUT", s.path) is moving]
    assert len(aliases) == 1  # the held one went on; no alias after the signal
    report = _report(setup)
    assert report["ok"] is False
    assert report["failure"]["phase"] == "aliases"
    assert "registry_state" in report["failure"]
    assert _credential_dirs(setup) == []
    assert "Traceback" not in run.stderr()


@pytest.mark.timeout(300)
def test_a_second_signal_while_stopping_changes_nothing(setup: Setup) -> None:
    """CI sends SIGINT, then SIGTERM: the first one decides the exit code, no traceback. The
    run is kept in its clean-up (asking the registry what it holds) while more signals come."""
    pulling = setup.proxy.hold("GET", "/signals/base/blobs/")
    run = Run(setup, "signals/twice")
    _wait(pulling, "the build's pull of the base image", run)
    reporting = setup.proxy.hold("HEAD", "/signals/twice/manifests/1.0.0")
    run.proc.send_signal(signal.SIGINT)
    _wait(reporting, "the failure report's look at the registry", run)
    run.proc.send_signal(signal.SIGTERM)
    run.wait_for_stderr("SIGTERM: already stopping")
    run.proc.send_signal(signal.SIGHUP)
    run.wait_for_stderr("SIGHUP: already stopping")
    setup.proxy.release.set()
    run.proc.wait(timeout=60)
    assert run.proc.returncode == 130, run.stdout() + run.stderr()
    assert "Traceback" not in run.stderr()
    assert "release FAILED in phase build" in run.stdout()
    assert _report(setup)["ok"] is False
    assert _credential_dirs(setup) == []


@pytest.mark.timeout(300)
def test_a_stalled_upload_is_stopped_after_the_stall_timeout(setup: Setup) -> None:
    """The registry takes a layer upload and never answers: no byte moves; dockyard stops the
    upload (its own, by digest) after --stall-timeout instead of waiting for ever."""
    uploading = setup.proxy.hold("PUT", "/signals/stall/blobs/uploads/")
    run = Run(setup, "signals/stall", from_base=False, extra=("--stall-timeout", "3"))
    _wait(uploading, "the layer upload", run)
    held = time.monotonic()
    run.proc.wait(timeout=60)
    print(f"stalled upload (--stall-timeout 3): exit {time.monotonic() - held:.2f} s after the "
          "upload was held")
    assert run.proc.returncode == 1, run.stdout() + run.stderr()
    assert "release FAILED in phase build" in run.stdout()
    assert "stalled: no bytes moved for 3 s" in run.stdout()
    assert _report(setup)["failure"]["phase"] == "build"
    assert _podman_of(setup.podman_root) == []
    assert _credential_dirs(setup) == []


@pytest.mark.timeout(300)
def test_a_signal_while_a_registry_request_hangs_is_answered_at_once(setup: Setup) -> None:
    """Ctrl-C while the registry holds a request (here the verification's GET of an image
    config) ends the request, not only the run after it: the exit comes without waiting for
    the registry, well inside the 7.5 s CI runners allow between SIGINT and SIGTERM."""
    verifying = setup.proxy.hold("GET", "/signals/hang/blobs/")
    run = Run(setup, "signals/hang", from_base=False)
    _wait(verifying, "the verification's GET of a config", run)
    seconds = run.signal(signal.SIGINT)
    print(f"SIGINT while the registry hangs: exit {seconds:.2f} s after the signal")
    assert run.proc.returncode == 130, run.stdout() + run.stderr()
    assert "Traceback" not in run.stderr()
    assert "release FAILED in phase verify" in run.stdout()
    assert _credential_dirs(setup) == []


@pytest.mark.timeout(300)
def test_after_sigkill_the_next_command_removes_the_credential_dir(
    setup: Setup,
) -> None:
    pulling = setup.proxy.hold("GET", "/signals/base/blobs/")
    run = Run(setup, "signals/killed")
    _wait(pulling, "the build's pull of the base image", run)
    run.proc.send_signal(signal.SIGKILL)
    run.proc.wait(timeout=60)  # reaped: its pid is gone, as after a CI runner's kill
    left = _credential_dirs(setup)
    assert len(left) == 1 and (left[0] / "config.json").is_file()  # nobody could clean up

    done = subprocess.run([sys.executable, "-m", "tui.cli", "--version"], env=setup.env,
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert _credential_dirs(setup) == []
