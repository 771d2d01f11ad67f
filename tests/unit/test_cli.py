"""The shared entry point: usage errors are one line and never echo a stray value."""

from __future__ import annotations

import pytest

from tui.cli import main


def test_stray_values_are_not_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["login", "127.0.0.1:5000", "hunter2-secret", "--bogus=also-secret"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "hunter2" not in err and "also-secret" not in err
    assert err == ("error: dockyard: unrecognized arguments: --bogus, "
                   "1 more value(s), not shown; see --help\n")


def test_other_usage_errors_keep_their_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["release", "--dry-run", "--engine", "kaniko"])
    err = capsys.readouterr().err
    assert err.startswith("error: dockyard release: argument --engine: invalid choice: 'kaniko'")
    assert err.count("\n") == 1
