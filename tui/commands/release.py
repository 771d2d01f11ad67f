"""``dockyard release``: validate the plan, print it (--dry-run) or run it (--yes)."""

from __future__ import annotations

import argparse
import os
import stat
import sys
from pathlib import Path
from typing import Any

from core.errors import CredentialError, DockyardError, PlatformError
from tui.commands import insecure_hosts, write_json


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
    parser.add_argument("--no-registry", action="store_true",
                        help="with --dry-run: read no registry (aliases are then judged by the "
                        "checkout's tags alone; the run always reads the registry)")
    parser.add_argument("--repo", help="project git checkout (default: the current directory)")
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
    parser.add_argument("--login", action="append", default=[], metavar="HOST=USER",
                        help="log in to HOST as USER for this run only, the token or password "
                        "read from --password-stdin (no keyring or docker login needed; "
                        "nothing is saved)")
    parser.add_argument("--password-stdin", action="store_true",
                        help="with --login: read the token or password from the first line "
                        "of stdin")
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
    parser.add_argument("--stall-timeout", metavar="SECONDS",
                        help="stop a push that moves no bytes for this long (default: 120, or "
                        "$DOCKYARD_STALL_TIMEOUT)")
    parser.add_argument("--build-timeout", metavar="SECONDS",
                        help="stop a build that runs longer than this (default: no limit, or "
                        "$DOCKYARD_BUILD_TIMEOUT)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # kept off dockyard --help's path: loads semver
    from core.engines.base import EngineOptions, parse_output
    from core.engines.process import positive_seconds
    from core.plan import make_plan, with_binaries
    from core.rendering import plan_steps, plan_text

    for name in ("stall_timeout", "build_timeout"):
        if getattr(args, name) is not None:
            setattr(args, name, positive_seconds(getattr(args, name), name.replace("_", "-")))
    if args.no_registry and not args.dry_run:
        raise DockyardError("--no-registry goes with --dry-run",
                            "a run always reads the registry before it moves an alias",
                            field="no-registry")
    wanted = _check_login_flags(args)
    # a merge builds nothing, and a part builds its own platforms, known only after _split:
    # neither needs every planned platform's binary on this machine
    plan = make_plan(request_from_args(args), binaries=not (args.part or args.merge))
    _check_output_path(args.output)
    if args.output and args.load:
        raise DockyardError("--output and --load cannot be combined",
                            "pick one: an OCI archive or a local load", field="load")
    try:
        output = parse_output(args.output, args.load)
    except PlatformError as err:
        raise DockyardError(err.problem, err.valid, field="load") from None
    _check_output(output, plan.platforms)
    options = EngineOptions.from_env(insecure_registries=insecure_hosts(args))
    plan, part_file, parts = _split(args, plan, output, options)
    if part_file is not None:
        plan = with_binaries(plan)
    given = _given_logins(wanted, plan)  # last: stdin is read once every flag was accepted
    # the run refuses what this refuses (a merge builds nothing, so it has no engine steps)
    steps = [] if parts else plan_steps(plan, output, options)
    if args.dry_run and (part_file is not None or parts):
        # kept off dockyard --help's path: loads httpcore, httpx
        from core.parts import Split

        # the wizard's Review shows the same steps for the same split
        steps = Split(part=part_file is not None, part_file=part_file,
                      parts=parts).steps(plan, steps)
        if args.json:
            write_json({**plan.to_dict(steps), "part_file": str(part_file) if part_file else None,
                        "parts": [part.source for part in parts]})
        else:
            sys.stdout.write(plan_text(plan, steps))
        return 0
    if args.dry_run:
        # kept off dockyard --help's path: loads httpcore, httpx, semver
        from core.clients import logged_in_clients
        from core.published import judge_plan
        from core.release import plan_logins

        notes = []
        if args.no_registry:
            notes.append("registry not read (--no-registry): aliases judged by the checkout's "
                         "tags alone")
        elif output.pushes:  # the same registry reads the run makes before moving an alias
            clients = logged_in_clients(options.insecure_registries, plan_logins(plan, given),
                                        ca_file=plan.ca_file, max_retries=0)
            plan, notes = judge_plan(plan, clients)
        steps = plan_steps(plan, output, options)  # aliases judged again
        if args.json:
            write_json({**plan.to_dict(steps), "notes": notes})
        else:
            sys.stdout.write(plan_text(plan, steps))
            sys.stdout.writelines(f"note: {note}\n" for note in notes)
        return 0
    # kept off dockyard --help's path
    from tui.headless import run_release_headless

    return run_release_headless(plan, args, part_file=part_file, merge=parts, logins=given)


def _check_login_flags(args: argparse.Namespace) -> tuple[str, str] | None:
    """``--login HOST=USER`` with ``--password-stdin``, both or neither; (host, user) or None."""
    # kept off dockyard --help's path: loads semver
    from core.reference import canonical_registry

    if args.password_stdin and not args.login:
        raise DockyardError("--password-stdin goes with --login",
                            "add --login HOST=USER for the registry the secret is for",
                            field="password-stdin")
    if not args.login:
        return None
    if len(args.login) > 1:
        raise DockyardError(f"--login given {len(args.login)} times",
                            "one --login per run: stdin holds one secret", field="login")
    host, equals, user = args.login[0].partition("=")
    if not (equals and host.strip() and user):
        raise DockyardError(f"{args.login[0]!r} is not HOST=USER",
                            "e.g. --login ghcr.io=ci-bot", field="login")
    if ":" in user or any(ord(ch) < 32 or ord(ch) == 127 for ch in user):
        raise DockyardError(f"user {user!r} is not usable",
                            "a name without ':' or control characters", field="login")
    try:
        registry = canonical_registry(host)
    except DockyardError as err:
        raise DockyardError(err.problem, err.valid, field="login") from None
    if not args.password_stdin:
        raise DockyardError("--login needs --password-stdin",
                            "pipe the token into --password-stdin (never on the command line)",
                            field="login")
    return registry, user


def _given_logins(wanted: tuple[str, str] | None, plan: Any) -> tuple[Any, ...]:
    """The ``--login`` of this run, its secret read from one line of stdin; it lives in memory
    and in the run's temporary engine config only (core/secretdir.py), never in the keyring."""
    # kept off dockyard --help's path: loads semver
    from core.credentials import Credential, RegistryLogin
    from core.reference import canonical_registry

    if wanted is None:
        return ()
    registry, user = wanted
    pushed = sorted({canonical_registry(image.name.domain) for image in plan.images})
    if registry not in pushed:
        raise DockyardError(f"{registry} is not a registry this release pushes to",
                            "log in to one of: " + ", ".join(pushed), field="login")
    secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        raise DockyardError("stdin held no token or password",
                            "pipe one line holding the secret into --password-stdin",
                            field="password-stdin")
    try:
        credential = Credential(registry, user, secret)
    except CredentialError as err:
        raise DockyardError(err.problem, err.valid, field="password-stdin") from None
    return (RegistryLogin(registry, credential, "--password-stdin"),)


def _split(args: argparse.Namespace, plan: Any, output: Any, options: Any
           ) -> tuple[Any, Path | None, tuple[Any, ...]]:
    """``--part``: the plan narrowed to this leg's platforms and where its part file goes;
    ``--merge``: the parts, checked against the plan. Refusals are one line, before any work."""
    import dataclasses  # kept off dockyard --help's path

    # kept off dockyard --help's path: loads httpcore, httpx
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
        # kept off dockyard --help's path: loads httpcore, httpx
        from core.engines.selection import plan_engine

        native = plan_engine(plan, options).native_platform()
        if native not in plan.platforms:
            planned = ", ".join(str(p) for p in plan.platforms)
            raise PartError(f"this machine's native platform {native} is not planned ({planned})",
                            "pass --platform P for the platforms this leg builds")
        plan = dataclasses.replace(plan, platforms=(native,))
    path = args.part_file or default_part_path(plan.platforms, Path.cwd())
    return plan, path.expanduser().resolve(), ()


def _check_output(output: Any, planned: tuple[Any, ...]) -> None:
    """``--load`` builds one of the planned platforms; ``--output`` writes a file anywhere,
    but into an existing directory and not over a directory, FIFO or device."""

    # kept off dockyard --help's path
    from core import paths

    if output.kind == "load" and output.platform not in planned:
        raise DockyardError(
            f"{output.platform} is not one of the planned platforms",
            "load one of: " + ", ".join(str(p) for p in planned),
            field="load",
        )
    if output.kind != "oci-archive" or output.path is None:
        return
    parent = paths.status(output.path.parent, str(output.path.parent), DockyardError,
                          field="output")
    if parent is None or not stat.S_ISDIR(parent.st_mode):
        raise DockyardError(f"{paths.shown(output.path.parent)} is not a directory",
                            "write the archive into an existing directory", field="output")
    found = paths.status(output.path, str(output.path), DockyardError, field="output")
    if found is not None and not stat.S_ISREG(found.st_mode):
        raise DockyardError(f"{paths.shown(output.path)} is {paths.kind(found)}",
                            "give a file name for the archive", field="output")


def _check_output_path(text: str | None) -> None:
    """Look at the archive path before it is resolved (a symlink loop there must be a one-line
    error, not Path.resolve's RuntimeError)."""
    # kept off dockyard --help's path
    from core import paths

    kind, _, path = (text or "").partition(":")
    if kind == "oci-archive" and path:
        paths.status(Path(path).expanduser(), path, DockyardError, field="output")


def request_from_args(args: argparse.Namespace) -> Any:
    # kept off dockyard --help's path: loads semver
    from core import paths
    from core.plan import BuildOptions, PlanRequest, parse_build_arg

    if args.repo is not None and not args.repo.strip():
        raise DockyardError("--repo is empty", "pass --repo DIR of a git checkout", field="repo")
    repo = Path.cwd() if args.repo is None else Path(args.repo)
    found = paths.status(repo, str(repo), DockyardError, field="repo")
    if found is None or not stat.S_ISDIR(found.st_mode):
        raise DockyardError(
            f"{paths.shown(repo)} is not a directory", "pass --repo DIR of a git checkout",
            field="repo",
        )
    return PlanRequest(
        root=Path(os.path.realpath(repo)),
        tag=args.tag,
        images=tuple(args.image),
        platforms=tuple(args.platform),
        mode=args.mode,
        binary=args.binary,
        dockerfile=args.dockerfile,
        context=args.context,
        engine=args.engine,
        builder=args.builder,
        ca_file=args.ca_file,
        build=BuildOptions(
            cache_from=args.cache_from,
            cache_to=args.cache_to,
            build_args=tuple(parse_build_arg(item) for item in args.build_arg),
            target=args.target,
            provenance=args.provenance,
            sbom=args.sbom,
        ),
    )
