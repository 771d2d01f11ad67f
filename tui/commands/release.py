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
    parser.add_argument("--ca-file", type=Path, metavar="PEM",
                        help="CA certificate of a registry with a private CA (trusted besides "
                        "the system's CAs)")
    parser.add_argument("--output", metavar="oci-archive:PATH",
                        help="write an OCI archive instead of pushing")
    parser.add_argument("--load", metavar="PLATFORM",
                        help="build one platform into the local engine for a smoke run")
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--part", action="store_true",
                       help="build only --platform (default: the native one), push it by digest "
                       "with no tag and write a part file for --merge")
    split.add_argument("--merge", nargs="+", type=Path, default=[], metavar="PART",
                       help="merge the part files of every platform into one index, then "
                       "publish it as a release (builds nothing)")
    parser.add_argument("--part-file", type=Path, metavar="PATH",
                        help="with --part: where to write it (default "
                        "./dockyard-part-<os>-<arch>[-<variant>].json)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.engines.base import EngineOptions, parse_output
    from core.plan import make_plan
    from core.rendering import plan_steps, plan_text

    if args.ca_file is not None:
        from core.registry import check_ca_file

        args.ca_file = check_ca_file(args.ca_file)
    plan = make_plan(request_from_args(args))
    output = parse_output(args.output, args.load)
    options = EngineOptions.from_env(insecure_registries=tuple(args.insecure_registry))
    plan, part_file, parts = _split(args, plan, output, options)
    if args.dry_run and (part_file is not None or parts):
        from core.parts import merge_steps, part_steps

        if parts:
            steps = merge_steps(plan, parts)
        else:
            assert part_file is not None
            steps = part_steps(plan_steps(plan, plan.engine, output, options), part_file)
        if args.json:
            json.dump({**plan.to_dict(steps), "part_file": str(part_file) if part_file else None,
                       "parts": [part.source for part in parts]}, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            sys.stdout.write(plan_text(plan, steps))
        return 0
    if args.dry_run:
        from core.published import judge_plan
        from core.release import default_client_for, plan_logins

        if output.pushes:  # the same registry reads the run makes before moving an alias
            clients = default_client_for(options.insecure_registries, plan_logins(plan),
                                         ca_file=args.ca_file)
            plan, notes = judge_plan(plan, clients)
        else:
            notes = []
        steps = plan_steps(plan, plan.engine, output, options)
        if args.json:
            json.dump({**plan.to_dict(steps), "notes": notes}, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            sys.stdout.write(plan_text(plan, steps))
            sys.stdout.writelines(f"note: {note}\n" for note in notes)
        return 0
    from tui.headless import run_release_headless

    return run_release_headless(plan, args, part_file=part_file, merge=parts)


def _split(args: argparse.Namespace, plan: Any, output: Any, options: Any
           ) -> tuple[Any, Path | None, tuple[Any, ...]]:
    """``--part``: the plan narrowed to this leg's platforms and where its part file goes;
    ``--merge``: the parts, checked against the plan. Refusals are one line, before any work."""
    import dataclasses

    from core.parts import PartError, check_parts, default_part_path, read_part

    if args.part_file is not None and not args.part:
        raise PartError("--part-file goes with --part", "add --part, or drop --part-file")
    if not (args.part or args.merge):
        return plan, None, ()
    if not output.pushes:
        raise PartError("--part and --merge publish to the registry",
                        "drop --output / --load")
    if args.merge:
        parts = tuple(read_part(path) for path in args.merge)
        check_parts(parts, plan)
        return plan, None, parts
    if not args.platform:
        from core.engines.base import select_engine

        engine = select_engine(None if plan.engine == "auto" else plan.engine,
                               options.with_builder(plan.builder))
        native = engine.native_platform()
        if native not in plan.platforms:
            planned = ", ".join(str(p) for p in plan.platforms)
            raise PartError(f"this machine's native platform {native} is not planned ({planned})",
                            "pass --platform P for the platforms this leg builds")
        plan = dataclasses.replace(plan, platforms=(native,))
    path = args.part_file or default_part_path(plan.platforms, Path.cwd())
    return plan, path.expanduser().resolve(), ()


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
