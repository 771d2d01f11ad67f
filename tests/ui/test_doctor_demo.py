"""First run: ``dockyard doctor`` output and ``dockyard demo`` through the real CLI, the wizard
opened on the demo project (Pilot), and the whole ``dockyard demo`` under tmux."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from core.demo import registry_answers
from tests.support.registry import free_port
from tui.cli import main


def test_doctor_text_gives_a_fix_under_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["doctor", "--repo", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    heads = [line for line in lines if not line.startswith(" ")]
    assert [line.split()[1] for line in heads][:3] == ["docker", "buildx", "builders"]
    for index, line in enumerate(lines):
        if line.startswith(("warn", "FAIL")):
            following = next((x for x in lines[index + 1:] if "fix:" in x or not
                              x.startswith(" ")), "")
            assert "fix:" in following, line
    assert code == (1 if any(line.startswith("FAIL") for line in heads) else 0)


def test_doctor_json_matches_the_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["doctor", "--json", "--repo", str(tmp_path)])
    data = json.loads(capsys.readouterr().out)
    assert code == (0 if data["ok"] else 1)
    assert data["ok"] == all(check["status"] != "fail" for check in data["checks"])


def _stop(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # not our child (started by a subprocess): wait until gone
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def test_demo_without_opening_creates_the_project_and_a_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = f"127.0.0.1:{free_port()}"
    code = main(["demo", "--dir", str(tmp_path / "demo"), "--registry", host, "--no-open"])
    out = capsys.readouterr().out
    match = re.search(r"stop it with: kill (\d+)", out)
    assert match, out
    try:
        assert code == 0
        assert registry_answers(host)
        assert f"image {host}/demo/app, tag v0.1.0" in out
        assert f"open the wizard with: cd {(tmp_path / 'demo').resolve()} && dockyard" in out
    finally:
        _stop(int(match.group(1)))


def test_demo_refuses_a_remote_registry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--dir", str(tmp_path / "demo"), "--registry", "ghcr.io", "--no-open"])
    assert code == 2
    assert capsys.readouterr().err.startswith("error: registry: 'ghcr.io' is not a loopback")


@pytest.mark.anyio
async def test_the_wizard_opens_on_the_demo_with_every_release_rule_passing(
    tmp_path: Path,
) -> None:
    from core.demo import create_demo
    from screens.version import VersionScreen
    from tui.app import DockyardApp

    root = create_demo(tmp_path / "demo", registry=f"127.0.0.1:{free_port()}").root
    app = DockyardApp(root)
    async with app.run_test(size=(120, 40)) as pilot:
        screen: Any = None
        for _ in range(300):
            await pilot.pause(0.02)
            screen = app.screen
            if isinstance(screen, VersionScreen) and screen.rules:
                break
        assert isinstance(screen, VersionScreen)
        assert {rule.rule: rule.ok for rule in screen.rules} == {
            "semver": True, "newer": True, "exists": True, "on-head": True, "clean": True}
        assert app.draft is not None and app.draft.root == root


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_dockyard_demo_under_tmux_opens_the_wizard(tmp_path: Path) -> None:
    host = f"127.0.0.1:{free_port()}"
    dockyard = Path(sys.executable).parent / "dockyard"
    session = f"h7-demo-{os.getpid()}"
    command = f"{dockyard} demo --dir {tmp_path / 'demo'} --registry {host}; sleep 60"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
                    command], check=True)
    pid = None
    try:
        screen = _wait_for(session, lambda text: "Release rules" in text and "v0.1.0" in text)
        assert "Version" in screen and "Images" in screen
        subprocess.run(["tmux", "send-keys", "-t", session, "C-q"], check=True)
        after = _wait_for(session, lambda text: "stop it with: kill" in text)
        match = re.search(r"stop it with: kill (\d+)", after)
        assert match, after
        pid = int(match.group(1))
        assert registry_answers(host)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
        if pid is not None:
            _stop(pid)


def _wait_for(session: str, ready: Any) -> str:
    text = ""
    for _ in range(300):
        text = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], check=True,
                              capture_output=True, text=True).stdout
        if ready(text):
            return text
        time.sleep(0.1)
    raise AssertionError(f"tmux screen never got there:\n{text}")
