"""The 1M-line flood: real recorded buildx output repeated, for the Build screen's bench and tests.

Made on demand (never stored, never invented): ``build-push-plain.stderr`` from
``../shared/fixtures/buildx/v0.36-remote`` (a real three-platform build and push, plain
progress) repeated and cut at ``lines`` lines, so the same call always gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

RECORDING = (Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "buildx"
             / "v0.36-remote" / "build-push-plain.stderr")
FLOOD_LINES = 1_000_000


def flood_lines(lines: int = FLOOD_LINES) -> list[str]:
    recorded = RECORDING.read_text(encoding="utf-8").splitlines()
    return (recorded * (lines // len(recorded) + 1))[:lines]


def write_flood(path: Path, lines: int = FLOOD_LINES) -> Path:
    """``lines`` lines of the recording, repeated, written to ``path``."""
    path.write_text("\n".join(flood_lines(lines)) + "\n", encoding="utf-8")
    return path
