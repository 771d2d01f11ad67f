"""core/ stays a plain library: importing it must not drag in Textual."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "core", "core.errors", "core.events", "core.version", "core.repo", "core.tags",
    "core.platforms", "core.reference", "core.binaries", "core.config", "core.plan",
]


def test_importing_core_does_not_import_textual() -> None:
    code = (
        "import importlib, pkgutil, sys, core, core.engines\n"
        "names = [m.name for m in pkgutil.walk_packages(core.__path__, 'core.')]\n"
        "for name in names: importlib.import_module(name)\n"
        "print(len(names))\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual','screens','tui'))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, bad = done.stdout.splitlines()
    assert int(count) >= len(CORE_MODULES) - 1  # walk_packages does not list "core" itself
    assert bad == ""
