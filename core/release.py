"""Run a plan through the publish phases; every tag is written from bytes that were verified.

1. **build**: the engine pushes each image by digest, with no tag (core/publish.py);
2. **verify**: that digest holds exactly the planned platforms (core/verify.py);
3. **tag**: the version tag is created from the verified bytes, never replaced: if another
   release created it meanwhile, this run stops and moves nothing;
4. **aliases**: each alias gets the same bytes, unless a newer release is already published
   (judged against the registry, not only the checkout: never backwards, core/published.py);
5. **verify-aliases**: the version tag is still ours and each alias resolves to it; a race
   with another release is settled here (an alias taken backwards by this run is given back).

Each run writes a JSON report (phases, digests, every alias's previous digest) so an alias move
can be rolled back by hand, and a failure says which phase failed and what the registry holds.
A cancel (Ctrl-C, SIGTERM) during the alias phase stops it: the report lists what moved and a
re-run completes the rest.

Re-running a release is safe. The version tag decides:

* absent: build and push it;
* present and the *same release*: skip the build (and move only aliases not already there);
* present and anything else: refuse, a version tag is never overwritten.

"Same release" is established from the registry alone, because builds are not bit-for-bit
reproducible (timestamps, provenance) so a rebuilt digest would differ: the existing index has
exactly the planned platforms, and every platform image's config carries the label
``org.opencontainers.image.revision`` equal to the plan's commit (both engines set it at build).

Where each part lives: the phase runner (``Release``, ``run_release``) in release_run.py; the
aliases (moves, settling a race, giving back) in release_aliases.py; the report and the words
for what the registry holds in release_report.py; the stop the registry clients obey in
release_stop.py; the run's logins in release_logins.py. This module is the entry: the run as
the CLI and the TUI start it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.clients import logged_in_clients
from core.engines.base import PUSH, EngineOptions, Output
from core.events import Event, LogLine
from core.release_logins import engine_credentials, plan_logins
from core.release_report import default_report_dir
from core.release_run import PHASES, Release, phases_for, run_release
from core.release_stop import RequestStop

if TYPE_CHECKING:
    from core.credentials import RegistryLogin
    from core.parts import Part
    from core.plan import Plan
    from core.reference import ImageName
    from core.registry import RegistryClient

__all__ = ["PHASES", "Release", "RequestStop", "default_report_dir", "engine_credentials",
           "phases_for", "plan_logins", "release_with_stored_logins", "run_release"]


def release_with_stored_logins(
    plan: Plan,
    *,
    insecure_registries: tuple[str, ...] = (),
    output: Output = PUSH,
    cancel: threading.Event | None = None,
    report_dir: Path | None = None,
    ca_file: Path | None = None,
    part_file: Path | None = None,
    merge: Sequence[Part] = (),
    stall_timeout: float | None = None,
    build_timeout: float | None = None,
    given_logins: Sequence[RegistryLogin] = (),
) -> Iterator[Event]:
    """A release as the CLI and the TUI run it: the stored logins are looked up once (those
    ``given_logins`` does not cover), handed to the engine through a throw-away docker config
    (removed afterwards), and one registry client per host is shared by every phase."""
    # kept off the start-up path: loads httpcore, httpx
    from core.engines.selection import plan_engine
    from core.registry import engine_cert_dir

    logins = plan_logins(plan, given_logins)
    cancel = cancel or threading.Event()  # one event stops the engine and the registry calls
    with engine_credentials(logins) as docker_config, engine_cert_dir(ca_file) as cert_dir:
        options = EngineOptions.from_env(
            docker_config=docker_config, insecure_registries=insecure_registries,
            cert_dir=cert_dir,  # a FROM on the private-CA registry: the engine trusts it too
        ).with_builder(plan.builder)
        options = dataclasses.replace(  # --stall-timeout / --build-timeout win over the env
            options, stall_timeout=stall_timeout or options.stall_timeout,
            build_timeout=build_timeout or options.build_timeout)
        selected = None if merge else plan_engine(plan, options)  # a merge builds nothing
        clients: dict[str, RegistryClient] = {}
        stop = RequestStop(cancel)
        factory = logged_in_clients(insecure_registries, logins, ca_file=ca_file,
                                    cancel=stop, stall_timeout=options.stall_timeout)

        def client_for(image: ImageName) -> RegistryClient:
            if image.api_host not in clients:
                clients[image.api_host] = factory(image)
            return clients[image.api_host]

        if selected is not None and selected.note:
            yield LogLine(text=f"note: {selected.note}")
        try:
            yield from run_release(plan, selected, client_for=client_for, cancel=cancel,
                                   output=output, report_dir=report_dir, logins=logins,
                                   part_file=part_file, merge=merge, request_stop=stop)
        finally:
            for client in clients.values():
                client.close()
