"""Run reports go to dockyard's state dir, as platformdirs names it (never into the project)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.release import default_report_dir


@pytest.mark.skipif(sys.platform != "linux", reason="the XDG layout is Linux's")
def test_reports_follow_xdg_state_home_else_home(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_report_dir() == tmp_path / "state" / "dockyard" / "runs"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_report_dir() == tmp_path / "home" / ".local" / "state" / "dockyard" / "runs"
