"""``dockyard release``: validate the plan, print it (--dry-run) or run it (--yes)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.errors import DockyardError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "release",
        help="plan (--dry-run) or run (--yes) a multi-arch release of the tag on HEAD",
        description="Validate the release tag, images, platforms and build mode, then print the "
        "plan (--dry-run) or build, push, verify and move the aliases (--yes).",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    what.add_argument("--yes", action="store_true", help="run the release without asking")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="project git checkout")
    parser.add_argument("--tag", help="release tag (default: the version tag on HEAD)")
    parser.add_argument("--image", action="append", default=[], metavar="REF",
                        help="image name without tag, e.g. ghcr.io/acme/app (repeatable)")
    parser.add_argument("--platform", action="append", default=[], metavar="P[,P...]",
                        help="target platforms, e.g. linux/amd64,linux/arm64 (repeatable)")
    parser.add_argument("--mode", help="build (the Dockerfile compiles) or copy (prebuilt bins)")
    parser.add_argument("--binary", metavar="TEMPLATE",
                        help="copy mode: binary path template, e.g. dist/{arch}/app")
    parser.add_argument("--dockerfile", metavar="PATH", help="Dockerfile (default: Dockerfile)")
    parser.add_argument("--context", metavar="DIR", help="build context (default: .)")
    parser.add_argument("--engine", choices=("auto", "buildx", "podman"),
                        help="build engine (default: dockyard.toml, else buildx when available, "
                        "else podman)")
    parser.add_argument("--builder", metavar="NAME",
                        help="buildx builder (default: the current one; see docker buildx ls)")
    parser.add_argument("--cache-from", metavar="REF", help="registry cache to read")
    parser.add_argument("--cache-to", metavar="REF", help="registry cache to write")
    parser.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--target", metavar="STAGE", help="Dockerfile stage to build")
    parser.add_argument("--provenance", action=argparse.BooleanOptionalAction, default=True,
                        help="attach provenance attestations (default: on)")
    parser.add_argument("--sbom", action=argparse.BooleanOptionalAction, default=False,
                        help="attach an SBOM attestation (default: off)")
    parser.add_argument("--insecure-registry", action="append", default=[], metavar="HOST",
                        help="allow plain http to this registry (loopback is always allowed)")
    parser.add_argument("--output", metavar="oci-archive:PATH",
                        help="write an OCI archive instead of pushing")
    parser.add_argument("--load", metavar="PLATFORM",
                        help="build one platform into the local engine for a smoke run")
    parser.add_argument("--stall-timeout", metavar="SECONDS",
                        help="stop a push that moves no bytes for this long (default: 120, or "
                        "$DOCKYARD_STALL_TIMEOUT)")
    parser.add_argument("--build-timeout", metavar="SECONDS",
                        help="stop a build that runs longer than this (default: no limit, or "
                        "$DOCKYARD_BUILD_TIMEOUT)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.engines.base import EngineOptions, parse_output
    from core.engines.process import positive_seconds
    from core.plan import make_plan
    from core.rendering import plan_steps, plan_text

    for name in ("stall_timeout", "build_timeout"):
        if getattr(args, name) is not None:
            setattr(args, name, positive_seconds(getattr(args, name), name.replace("_", "-")))
    plan = make_plan(request_from_args(args))
    output = parse_output(args.output, args.load)
    options = EngineOptions.from_env(insecure_registries=tuple(args.insecure_registry))
    if args.dry_run:
        steps = plan_steps(plan, plan.engine, output, options)
        if args.json:
            json.dump(plan.to_dict(steps), sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            sys.stdout.write(plan_text(plan, steps))
        return 0
    from tui.headless import run_release_headless

    return run_release_headless(plan, args)


def request_from_args(args: argparse.Namespace) -> Any:
    from core.plan import BuildOptions, PlanRequest, parse_build_arg

    if not args.repo.is_dir():
        raise DockyardError(
            f"{args.repo} is not a directory", "pass --repo DIR of a git checkout", field="repo"
        )
    return PlanRequest(
        root=args.repo.resolve(),
        tag=args.tag,
        images=tuple(args.image),
        platforms=tuple(args.platform),
        mode=args.mode,
        binary=args.binary,
        dockerfile=args.dockerfile,
        context=args.context,
        engine=args.engine,
        builder=args.builder,
        build=BuildOptions(
            cache_from=args.cache_from,
            cache_to=args.cache_to,
            build_args=tuple(parse_build_arg(item) for item in args.build_arg),
            target=args.target,
            provenance=args.provenance,
            sbom=args.sbom,
        ),
    )
