"""Which processes run now, read from /proc: tests check that a cancel really ended one."""

from __future__ import annotations

import os
from pathlib import Path


def running_with(marker: str) -> bool:
    """True while a process whose command line holds ``marker`` (a unique sleep time) lives."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if marker.encode() in cmdline:
                return True
    return False
