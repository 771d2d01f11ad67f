"""Registry requests to verify T tags x P platforms: verify_release against the naive way.

The naive way is a full inspect of every tag: GET its index, then GET every platform manifest
and its config, per tag. verify_release GETs the version tag's index, each platform manifest
and config once, then HEADs each alias (same digest = same content). Both run in the same
process against a real local registry (started here), counted at a proxy in front of it.

    .venv/bin/python bench/bench_verify_requests.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.image import summarize_index
from core.reference import ImageName, parse_image_name
from core.registry import RegistryClient
from core.verify import verify_release
from tests.registry.content import Pusher
from tests.registry.proxy import FaultProxy, running
from tests.support.registry import run_registry

ARCHES = ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le", "linux/s390x",
          "linux/riscv64", "linux/386", "linux/arm/v6"]
CASES = [(1, 2), (4, 2), (4, 4), (7, 2), (7, 6), (7, 8)]  # (tags incl. version tag, platforms)
ROUNDS = 5


def naive(client: RegistryClient, repo: str, tags: list[str]) -> None:
    """Full inspect of every tag, the way a per-tag ``imagetools inspect`` loop would."""
    for tag in tags:
        index = client.get_manifest(repo, tag)
        for entry in summarize_index(index.json).entries:
            child = client.get_manifest(repo, entry.digest)
            client.get_blob_json(repo, child.json["config"]["digest"])


def measure(proxy: FaultProxy, run: Callable[[RegistryClient], None]) -> tuple[int, float]:
    """(requests at the proxy, best wall time in ms over ROUNDS) for one way of verifying."""
    counts: set[int] = set()
    times: list[float] = []
    for _ in range(ROUNDS):
        proxy.reset_counts()
        with RegistryClient(proxy.host) as client:
            start = time.perf_counter()
            run(client)
            times.append((time.perf_counter() - start) * 1000)
        counts.add(proxy.count)
    assert len(counts) == 1, counts
    return counts.pop(), min(times)


def main() -> int:
    print(__doc__.strip().splitlines()[0])
    print(f"{'T tags':>6} {'P plat':>6} | {'verify req':>10} {'naive req':>9} {'ratio':>6} | "
          f"{'verify ms':>9} {'naive ms':>8} {'ratio':>6}")
    with run_registry() as registry, running(FaultProxy(registry.host)) as proxy:
        pusher = Pusher(registry.url)
        for tags_count, platforms in CASES:
            repo = f"bench/t{tags_count}-p{platforms}"
            index = pusher.index(repo, "1.0.0", ARCHES[:platforms])  # with attestations
            aliases = ["latest", "1.0", "1", "v1.0.0", "sha-abc1234", "stable"][:tags_count - 1]
            for alias in aliases:
                pusher.tag(repo, alias, index)
            name = parse_image_name(f"{proxy.host}/{repo}")

            def ours(client: RegistryClient, name: ImageName = name, plats: int = platforms,
                     aliases: list[str] = aliases) -> None:
                report = verify_release(client, name, "1.0.0", ARCHES[:plats], aliases)
                assert report.ok, report.problems

            def theirs(client: RegistryClient, repo: str = repo,
                       aliases: list[str] = aliases) -> None:
                naive(client, repo, ["1.0.0", *aliases])

            ours_req, ours_ms = measure(proxy, ours)
            naive_req, naive_ms = measure(proxy, theirs)
            assert ours_req == 1 + 2 * platforms + len(aliases)
            assert naive_req == tags_count * (1 + 2 * platforms)
            print(f"{tags_count:>6} {platforms:>6} | {ours_req:>10} {naive_req:>9} "
                  f"{naive_req / ours_req:>5.2f}x | {ours_ms:>9.1f} {naive_ms:>8.1f} "
                  f"{naive_ms / ours_ms:>5.2f}x")
        pusher.close()
    print("requests counted at the proxy; times are the best of", ROUNDS,
          "rounds against a loopback registry (no network latency, so the request ratio is the "
          "figure that carries over to a remote registry)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
