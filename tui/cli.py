"""The ``dockyard`` entry point: no arguments opens the assistant, subcommands run headless.

Command modules live in ``tui/commands``; each exposes ``register(subparsers)`` and keeps its
heavy imports inside the handler so ``dockyard --help`` and start-up stay fast.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import pkgutil
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import core
import tui.commands as commands
from core.errors import DockyardError
from core.secretdir import sweep_orphans

if TYPE_CHECKING:
    from core.parts import Split

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``error: ...`` line and exit 2, like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {self.prog}: {_redact(' '.join(message.split()))}\n")
        raise SystemExit(2)


def _redact(message: str) -> str:
    """Stray words are not echoed: one may be a password typed in the wrong place."""
    prefix = "unrecognized arguments: "
    if not message.startswith(prefix):
        return message
    words = message[len(prefix):].split()
    options = [word.split("=", 1)[0] for word in words if word.startswith("-")]
    hidden = len(words) - len(options)
    shown = options + ([f"{hidden} more value(s), not shown"] if hidden else [])
    return f"{prefix}{', '.join(shown)}; see --help"


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser, or only ``command``'s when it names a command module: the one
    command being run needs no other's options (~15 ms of argparse set-up per run)."""
    parser = _Parser(
        prog="dockyard",
        description="Release assistant for multi-architecture container images. "
        "Without a command it opens the interactive assistant in the current git checkout.",
    )
    parser.add_argument("--version", action="version", version=f"dockyard {core.__version__}")
    parser.add_argument("--repo", type=Path, dest="wizard_repo", metavar="DIR",
                        help="the assistant's project git checkout (default: the current "
                        "directory), as --repo of the other commands")
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--part", action="store_true", dest="wizard_part",
                       help="the assistant builds only the platforms you pick, pushes them by "
                       "digest with no tag and writes a part file (as release --part)")
    split.add_argument("--merge", nargs="+", type=Path, default=[], metavar="PART",
                       dest="wizard_merge", help="the assistant merges these part files and "
                       "publishes the result (as release --merge)")
    parser.add_argument("--part-file", type=Path, metavar="PATH", dest="wizard_part_file",
                        help="with --part: where the part file goes (default "
                        "./dockyard-part-<os>-<arch>[-<variant>].json)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    names = sorted(module.name for module in pkgutil.iter_modules(commands.__path__))
    for name in [command] if command in names else names:
        importlib.import_module(f"tui.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _sweep_credentials()
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words[0] if words and not words[0].startswith("-") else None)
    args = parser.parse_args(words)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        try:
            split = _wizard_split(args)
        except DockyardError as err:
            sys.stderr.write(f"error: {err}\n")
            return 2
        return _open_assistant(parser, args.wizard_repo, split)
    try:
        return handler(args)
    except DockyardError as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except Exception as err:  # the last line of defence: no traceback, no secrets
        sys.stderr.write(f"error: dockyard: internal error {_where(err)}; this is a bug, please "
                         "report it with the command you ran\n")
        return 70


def _where(err: Exception) -> str:
    """The exception's type and innermost frame; its message is left out, as it may quote input
    such as a password given in the wrong place."""
    frame = traceback.extract_tb(err.__traceback__)[-1:] if err.__traceback__ else []
    place = f" at {Path(frame[0].filename).name}:{frame[0].lineno}" if frame else ""
    return f"({type(err).__name__}{place})"


def _sweep_credentials() -> None:
    """Every command first removes the throw-away credential dirs of runs that were killed
    (SIGKILL leaves no chance to clean up); a failure here never stops the command."""
    try:
        sweep_orphans()
    except OSError:  # no usable temp dir at all: nothing to sweep
        return


def _wizard_split(args: argparse.Namespace) -> Split | None:
    """``--part`` / ``--merge`` for the assistant: the part files are read before it opens, so
    an unreadable one is a one-line error; the Review step checks them against the plan."""
    if args.wizard_part_file is not None and not args.wizard_part:
        # kept off dockyard --help's path: loads httpcore, httpx
        from core.parts import PartError

        raise PartError("--part-file goes with --part", "add --part, or drop --part-file")
    if not (args.wizard_part or args.wizard_merge):
        return None
    # kept off dockyard --help's path: loads httpcore, httpx
    from core.parts import Split, read_part

    part_file = args.wizard_part_file.expanduser().resolve() if args.wizard_part_file else None
    return Split(part=args.wizard_part, part_file=part_file,
                 parts=tuple(read_part(path) for path in args.wizard_merge))


def _open_assistant(parser: argparse.ArgumentParser, repo: Path | None,
                    split: Split | None = None) -> int:
    if repo is not None and not repo.is_dir():
        sys.stderr.write(f"error: repo: {str(repo)!r} is not a directory; "
                         "pass --repo DIR of a git checkout\n")
        return 2
    try:
        # textual: only the assistant needs it, never --help or a headless command
        from tui.app import run_app
    except ImportError:
        parser.print_help()
        return 0
    return run_app(repo, split=split)


def run() -> NoReturn:
    """The ``dockyard`` program: ``main``, then exit without the interpreter's last garbage
    collection passes over every loaded module's objects (50-140 ms after a release, with git,
    httpx and keyring loaded; ~10 ms frozen). Work is done by then: files are closed by their
    ``with`` blocks, temporary credentials removed by the run, stdout and stderr still flushed.
    ``main`` stays the entry for callers in one process, such as the tests."""
    code = main()
    gc.freeze()
    raise SystemExit(code)


if __name__ == "__main__":
    run()
