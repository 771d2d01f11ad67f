"""Split releases: the merge's own time and registry requests, and two parts built in parallel
plus their merge against one two-platform build, measured in the same run.

Each leg is a real podman (storage of its own) building one platform of a FROM-scratch copy-mode
project and pushing it by digest to a real local registry (started here); the merge then runs
in-process, its registry requests counted by the client. The baseline is the same release built
on one machine (one podman building both platforms). Rounds alternate, each into a fresh
repository.

    .venv/bin/python bench/bench_parts.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.engines.base import EngineOptions  # noqa: E402
from core.engines.podman import PodmanEngine  # noqa: E402
from core.events import Event, ReleaseFinished  # noqa: E402
from core.parts import read_part  # noqa: E402
from core.plan import Plan, PlanRequest, make_plan  # noqa: E402
from core.platforms import parse_platform  # noqa: E402
from core.reference import ImageName  # noqa: E402
from core.registry import RegistryClient  # noqa: E402
from core.release import run_release  # noqa: E402
from tests.support.elf import write_elf  # noqa: E402
from tests.support.gitrepo import git, make_repo  # noqa: E402
from tests.support.podman import podman_storage  # noqa: E402
from tests.support.registry import run_registry  # noqa: E402

PLATFORMS = ("linux/amd64", "linux/arm64")


def project(root: Path) -> Path:
    make_repo(root)
    (root / "Dockerfile").write_text(
        "FROM scratch\nARG TARGETARCH\nCOPY dist/${TARGETARCH}/app /app\n")
    for arch, machine in (("amd64", "x86-64"), ("arm64", "aarch64")):
        app = write_elf(root / "dist" / arch / "app", machine)
        with app.open("ab") as handle:  # a few MB of payload, as a small static binary has
            handle.write(arch.encode() * 1_000_000)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "bench")
    git(root, "tag", "-a", "v1.0.0", "-m", "v1.0.0")
    return root


def run(plan: Plan, engine: PodmanEngine | None, reports: Path, **kwargs: Any
        ) -> tuple[float, list[Event]]:
    start = time.perf_counter()
    events = list(run_release(plan, engine, report_dir=reports, **kwargs))
    seconds = time.perf_counter() - start
    last = events[-1]
    if not (isinstance(last, ReleaseFinished) and last.ok):
        raise SystemExit(f"release failed: {[e for e in events if 'Failed' in type(e).__name__]}")
    return seconds, events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("podman") is None:
        print("podman is not installed; nothing to measure")
        return 1
    work = Path(tempfile.mkdtemp(prefix="dy-bench-parts-"))
    one_machine: list[float] = []
    split_total: list[float] = []
    slowest_leg: list[float] = []
    merge_times: list[float] = []
    merge_requests: list[int] = []
    try:
        root = project(work / "project")
        with podman_storage("dy-bp1-") as s1, podman_storage("dy-bp2-") as s2, \
                run_registry() as registry:
            engines = [PodmanEngine(EngineOptions(storage_driver="vfs", isolation="chroot",
                                                  podman_root=s)) for s in (s1, s2)]
            for number in range(args.rounds):
                full = make_plan(PlanRequest(root=root, images=(f"{registry.host}/one/r{number}",),
                                             platforms=PLATFORMS, mode="copy",
                                             binary="dist/{arch}/app"))
                seconds, _ = run(full, engines[0], work / "reports")
                one_machine.append(seconds)

                image = f"{registry.host}/split/r{number}"
                plan = make_plan(PlanRequest(root=root, images=(image,), platforms=PLATFORMS,
                                             mode="copy", binary="dist/{arch}/app"))
                legs: list[float] = [0.0, 0.0]
                files = [work / f"part-{number}-{i}.json" for i in range(2)]

                def leg(i: int, plan: Plan = plan, files: list[Path] = files,
                        legs: list[float] = legs) -> None:
                    narrowed = dataclasses.replace(plan, platforms=(parse_platform(PLATFORMS[i]),))
                    legs[i], _ = run(narrowed, engines[i], work / "reports", part_file=files[i])

                start = time.perf_counter()
                threads = [threading.Thread(target=leg, args=(i,)) for i in range(2)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                clients: list[RegistryClient] = []

                def client_for(name: ImageName, clients: list[RegistryClient] = clients
                               ) -> RegistryClient:
                    clients.append(RegistryClient(name.api_host))
                    return clients[-1]

                merged, _ = run(plan, None, work / "reports", client_for=client_for,
                                merge=[read_part(f) for f in files])
                split_total.append(time.perf_counter() - start)
                slowest_leg.append(max(legs))
                merge_times.append(merged)
                merge_requests.append(sum(c.request_count for c in clients))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(values: list[float]) -> float:
        return statistics.median(values)

    print(f"split release, median of {args.rounds} rounds (2 platforms, podman, local registry):")
    requests = statistics.median(merge_requests)
    print(f"  merge alone        : {med(merge_times):6.2f} s, {requests:.0f} registry requests "
          "(whole merge: preflight to verified aliases)")
    print(f"  slowest leg        : {med(slowest_leg):6.2f} s; merge over it: "
          f"{med(merge_times):.2f} s (aim: at most 2 s)")
    print(f"  2 legs in parallel + merge: {med(split_total):6.2f} s")
    print(f"baseline: one machine builds both: {med(one_machine):6.2f} s   "
          f"ratio split/one = {med(split_total) / med(one_machine):.2f}x")
    print("  (here both legs share one machine's 2 cores; on two machines they run apart)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
