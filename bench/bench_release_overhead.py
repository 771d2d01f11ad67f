"""What dockyard costs on top of the commands a careful maintainer would type, same run.

Release: the demo-sized copy-mode project (two static binaries, linux/amd64 + linux/arm64, aliases
1.0 / 1 / latest) released through ``dockyard release --yes`` and by hand, alternating, each round
a new version on its own commit, to a real local registry:

* podman (here): ``podman build --platform … --manifest``, ``podman manifest push --all``, one
  registry PUT per alias (``curl``, the manifest bytes read once), ``skopeo inspect --raw``;
* buildx (where ``docker buildx`` works): ``buildx build --push``, ``imagetools inspect``, one
  ``imagetools create`` with every ``-t``. Said and skipped where buildx is absent.

Inspect: ``dockyard inspect IMAGE:TAG`` against ``skopeo inspect`` (and ``docker buildx imagetools
inspect`` where present), alternating, medians.

    .venv/bin/python bench/bench_release_overhead.py [--rounds 5] [--inspects 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.demo import create_demo  # noqa: E402
from tests.support.podman import remove_storage  # noqa: E402
from tests.support.registry import run_registry  # noqa: E402

ALIASES = ("1.0", "1", "latest")
INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT = f"{INDEX},application/vnd.docker.distribution.manifest.list.v2+json"


def timed(argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
          stdin: bytes | None = None) -> tuple[float, bytes]:
    start = time.perf_counter()
    done = subprocess.run(list(argv), env=env, cwd=cwd, input=stdin, capture_output=True,
                          timeout=600, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])}… failed ({done.returncode}):\n"
                         f"{done.stdout.decode()[-2000:]}{done.stderr.decode()[-2000:]}")
    return seconds, done.stdout


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=b@b",
                    *args], check=True, capture_output=True)


def next_version(root: Path, number: int) -> str:
    """A new commit and tag per round: every release is new, as a real one is."""
    (root / "ROUND").write_text(f"{number}\n")
    git(root, "add", "ROUND")
    git(root, "commit", "-q", "-m", f"round {number}")
    tag = f"v1.0.{number}"
    git(root, "tag", "-a", tag, "-m", tag)
    return tag


class Podman:
    """The hand-typed podman release, in its own storage (vfs + chroot, as this machine needs)."""

    def __init__(self, storage: Path) -> None:
        self.base = ["podman", "--storage-driver", "vfs", "--root", str(storage / "root"),
                     "--runroot", str(storage / "runroot"), "--tmpdir", str(storage / "tmp")]
        self.storage = storage

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKYARD_PODMAN_STORAGE_DRIVER": "vfs",
                "DOCKYARD_PODMAN_ISOLATION": "chroot", "DOCKYARD_PODMAN_ROOT": str(self.storage)}

    def release(self, project: Path, host: str, repo: str, version: str) -> float:
        name = f"bench-raw-{version}"
        ref = f"docker://{host}/{repo}:{version}"
        steps = [
            [*self.base, "build", "--isolation", "chroot", "--platform",
             "linux/amd64,linux/arm64", "--manifest", name, "."],
            [*self.base, "manifest", "push", "--all", "--tls-verify=false", name, ref],
        ]
        total = sum(timed(step, cwd=project)[0] for step in steps)
        seconds, body = timed(["curl", "-sf", "-H", f"Accept: {ACCEPT}",
                               f"http://{host}/v2/{repo}/manifests/{version}"])
        total += seconds
        for alias in ALIASES:
            total += timed(["curl", "-sf", "-X", "PUT", "-H", f"Content-Type: {INDEX}",
                            "--data-binary", "@-", f"http://{host}/v2/{repo}/manifests/{alias}"],
                           stdin=body)[0]
        total += timed(["skopeo", "inspect", "--raw", "--tls-verify=false", ref])[0]
        subprocess.run([*self.base, "manifest", "rm", name], capture_output=True, check=False)
        return total

    def reset(self) -> None:
        """The storage's files and nothing else: ``podman system reset`` also empties the
        machine-wide /run/libpod under every other podman user (it failed a CI run here)."""
        remove_storage(self.storage)


def dockyard(*args: str) -> list[str]:
    return [sys.executable, "-m", "tui.cli", *args]


def user_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """As a user runs it: this machine sets PYTHONDONTWRITEBYTECODE, which would recompile
    dockyard's modules on every run (~50 ms) where an installed dockyard has its .pyc files."""
    return {k: v for k, v in (env or os.environ).items() if k != "PYTHONDONTWRITEBYTECODE"}


def buildx_problem() -> str | None:
    try:
        done = subprocess.run(["docker", "buildx", "version"], capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return str(err)
    if done.returncode == 0:
        return None
    return (done.stderr or done.stdout).strip().splitlines()[0]


def median_ms(values: Sequence[float]) -> str:
    return f"{statistics.median(values) * 1000:7.0f} ms (min {min(values) * 1000:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--inspects", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("podman") is None:
        raise SystemExit("podman is not installed: nothing to compare here")
    with tempfile.TemporaryDirectory(prefix="dy-bench-") as tmp, run_registry() as registry:
        host = registry.host
        demo = create_demo(Path(tmp) / "demo", registry=host)
        storage = Path(tempfile.mkdtemp(prefix="dy-bo-"))
        podman = Podman(storage)
        env = {**podman.env(), "XDG_STATE_HOME": str(Path(tmp) / "state")}
        ours: list[float] = []
        raw: list[float] = []
        try:
            for number in range(1, args.rounds + 2):  # round 1 warms caches for both
                version = next_version(demo.root, number)
                argv = dockyard("release", "--yes", "--engine", "podman", "--repo",
                                str(demo.root), "--tag", version, "--image", f"{host}/bench/dy")
                seconds, _ = timed(argv, env=user_env(env), cwd=ROOT)
                raw_seconds = podman.release(demo.root, host, "bench/raw", version[1:])
                if number > 1:
                    ours.append(seconds)
                    raw.append(raw_seconds)
            inspect_ours: list[float] = []
            inspect_skopeo: list[float] = []
            image = f"{host}/bench/dy:1.0.1"
            for _ in range(args.inspects):
                inspect_ours.append(timed(dockyard("inspect", image), env=user_env(), cwd=ROOT)[0])
                inspect_skopeo.append(timed(["skopeo", "inspect", "--tls-verify=false",
                                             f"docker://{image}"])[0])
        finally:
            podman.reset()
            shutil.rmtree(storage, ignore_errors=True)
    d, r = statistics.median(ours), statistics.median(raw)
    print(f"release, podman, {args.rounds} rounds alternating (after one warm-up round each)")
    print(f"  dockyard release --yes   {median_ms(ours)}")
    print(f"  raw commands             {median_ms(raw)}")
    print(f"  ratio {d / r:.2f}x, fixed overhead {d - r:+.2f} s per release (aim: <= 0.3 s)")
    problem = buildx_problem()
    if problem is None:
        print("buildx: present; the buildx half is not implemented in this bench yet")
    else:
        print(f"buildx: absent here ({problem}); buildx release not measured")
    i, s = statistics.median(inspect_ours), statistics.median(inspect_skopeo)
    print(f"inspect, {args.inspects} runs alternating")
    print(f"  dockyard inspect         {median_ms(inspect_ours)}")
    print(f"  skopeo inspect           {median_ms(inspect_skopeo)}")
    print(f"  ratio {i / s:.2f}x skopeo (aim: <= 5x)")


if __name__ == "__main__":
    main()
