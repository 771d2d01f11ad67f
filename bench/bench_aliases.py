"""Alias publication time, 1 vs 6 aliases, against a real local registry.

Publishes a two-platform FROM scratch image with podman once, then moves aliases the way a
release's alias phase does (read what the registry holds for the never-backwards rule, then PUT
the verified index's exact bytes under each alias) and, as the baseline measured in the same
run, the way ``podman manifest push --all`` per alias would.

    .venv/bin/python bench/bench_aliases.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.engines.base import EngineOptions  # noqa: E402
from core.engines.podman import PodmanEngine  # noqa: E402
from core.events import DigestPushed  # noqa: E402
from core.plan import ImagePlan, Plan  # noqa: E402
from core.platforms import parse_platforms  # noqa: E402
from core.publish import put_alias  # noqa: E402
from core.published import guard, read_published  # noqa: E402
from core.reference import parse_image_name  # noqa: E402
from core.registry import RegistryClient  # noqa: E402
from core.tags import TagSet  # noqa: E402
from core.version import parse_version  # noqa: E402
from tests.support.elf import write_elf  # noqa: E402
from tests.support.podman import podman_storage  # noqa: E402
from tests.support.registry import run_registry  # noqa: E402


def median_ms(rounds: int, action: Callable[[int], None]) -> float:
    times = []
    for number in range(rounds):
        start = time.perf_counter()
        action(number)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("podman") is None:
        print("podman is not installed; nothing to measure")
        return 1
    work = Path(tempfile.mkdtemp(prefix="dy-bench-"))
    try:
        write_elf(work / "dist" / "amd64" / "app", "x86-64")
        write_elf(work / "dist" / "arm64" / "app", "aarch64")
        (work / "Dockerfile").write_text(
            "FROM scratch\nARG TARGETARCH\nCOPY dist/${TARGETARCH}/app /app\n")
        with podman_storage("dy-bench-") as storage, run_registry() as registry:
            engine = PodmanEngine(EngineOptions(storage_driver="vfs", isolation="chroot",
                                                podman_root=storage))
            image = parse_image_name(f"{registry.host}/bench/app")
            plan = Plan(
                root=work, version=parse_version("v1.0.0"), commit="0" * 40,
                images=(ImagePlan(image, TagSet("1.0.0", (), ())),),
                platforms=parse_platforms(["linux/amd64", "linux/arm64"]), mode="copy",
                dockerfile=work / "Dockerfile", context=work,
            )
            client = RegistryClient(registry.host)
            pushed = next(e for e in engine.build(plan, client_for=lambda _: client)
                          if isinstance(e, DigestPushed))
            verified = client.get_manifest(image.path, pushed.digest)
            client.put_manifest(image.path, "1.0.0", verified.raw, verified.media_type)
            listed = "localhost/dy-bench:1"  # the baseline pushes a list of podman's own
            subprocess.run([*engine.build_argv(plan, name=listed)], cwd=work, check=True,
                           capture_output=True)

            def put_aliases(count: int) -> Callable[[int], None]:
                def run(number: int) -> None:
                    aliases = ("latest", *(f"r{number}-a{i}" for i in range(count - 1)))
                    published = read_published(client, image.path, plan.version, aliases)
                    allowed = guard(TagSet("1.0.0", aliases, ()), plan.version, published)
                    for alias in allowed.aliases:
                        put_alias(client, image.path, alias, verified)
                return run

            def podman_push(number: int) -> None:
                subprocess.run(
                    [*engine.base_argv(), "manifest", "push", "--all", "--tls-verify=false",
                     listed, f"docker://{image}:push-{number}"],
                    check=True, capture_output=True)

            before = client.request_count
            one = median_ms(args.rounds, put_aliases(1))
            one_requests = (client.request_count - before) / args.rounds
            before = client.request_count
            six = median_ms(args.rounds, put_aliases(6))
            six_requests = (client.request_count - before) / args.rounds
            baseline = median_ms(args.rounds, podman_push)
            client.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"alias phase (registry read for never-backwards + exact-bytes PUTs), "
          f"median of {args.rounds} rounds:")
    print(f"  1 alias  : {one:8.1f} ms  ({one_requests:.0f} HTTP requests)")
    print(f"  6 aliases: {six:8.1f} ms  ({six_requests:.0f} HTTP requests)   "
          f"ratio 6/1 = {six / one:.2f}x, {six / 6:.1f} ms per alias")
    print(f"baseline: podman manifest push --all, 1 alias: {baseline:8.1f} ms")
    print(f"  PUT approach, 1 alias vs baseline: {baseline / one:.1f}x faster; "
          f"6 aliases by PUT vs 6 pushes (estimated 6 x baseline): {6 * baseline / six:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
