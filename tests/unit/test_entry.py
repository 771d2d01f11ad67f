"""The ``dockyard`` program (``tui.cli:run``) exits with ``main``'s code and output, as
``python -m tui.cli`` does; only its exit skips the last garbage collection."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_console_script_is_run() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["dockyard"] == "tui.cli:run"


@pytest.mark.parametrize(("argv", "code"), [(["--version"], 0), (["inspect", "bad::ref"], 2)])
def test_run_exits_with_mains_code(argv: list[str], code: int) -> None:
    program = f"import sys\nfrom tui.cli import run\nsys.argv = ['dockyard', *{argv!r}]\nrun()"
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, check=False)
    module = subprocess.run([sys.executable, "-m", "tui.cli", *argv], capture_output=True,
                            text=True, cwd=ROOT, timeout=60, check=False)
    assert done.returncode == module.returncode == code
    assert (done.stdout, done.stderr) == (module.stdout, module.stderr)
    assert done.stdout or done.stderr.startswith("error: image: ")


def test_a_command_builds_only_its_own_parser_and_help_lists_them_all() -> None:
    from tui.cli import build_parser

    def commands(parser: argparse.ArgumentParser) -> set[str]:
        return {name for action in parser._actions
                if isinstance(action, argparse._SubParsersAction) for name in action.choices}

    everything = commands(build_parser())
    assert {"inspect", "release", "login", "logout"} <= everything
    assert commands(build_parser("inspect")) == {"inspect"}
    assert commands(build_parser("logout")) == everything  # not a module name: all of them
    done = subprocess.run([sys.executable, "-m", "tui.cli", "inspect", "a/b:1", "--bogus"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr == "error: dockyard: unrecognized arguments: --bogus; see --help\n"
