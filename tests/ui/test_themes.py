"""dockyard's themes: every text role readable (WCAG AA, 4.5:1) on every background in both
themes; no colour named in screens/; a theme switch recolours text drawn in Python."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.widgets import Static

from screens.version import VersionScreen
from tests.ui.conftest import settle
from tests.ui.test_app import on_screen
from tui.app import DARK, LIGHT, DockyardApp
from tui.services import Services
from tui.themes import DARK_THEME, LIGHT_THEME, ROLES, THEMES

pytestmark = pytest.mark.anyio
SCREENS = Path(__file__).resolve().parents[2] / "screens"
COLOUR = re.compile(r"\b(red|green|yellow|cyan|blue|magenta|white|black|orange|purple)\b"
                    r"|#[0-9a-fA-F]{6}\b")


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance of ``#RRGGBB``."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_contrast_function_matches_wcag() -> None:
    assert round(contrast("#000000", "#FFFFFF"), 1) == 21.0
    assert round(contrast("#777777", "#FFFFFF"), 2) == 4.48  # the classic just-fails grey


@pytest.mark.parametrize("theme", THEMES, ids=lambda t: t.name)
def test_every_text_role_is_readable_on_every_background(theme) -> None:
    backgrounds = {"background": theme.background, "surface": theme.surface,
                   "panel": theme.panel}
    texts = {"foreground": theme.foreground,
             **{role: theme.variables[f"text-{role}"] for role in ROLES}}
    for text_name, text in texts.items():
        for ground_name, ground in backgrounds.items():
            ratio = contrast(text, ground)
            assert ratio >= 4.5, f"{theme.name}: {text_name} on {ground_name} is {ratio:.2f}:1"


def test_no_colour_is_named_in_screens() -> None:
    for path in [*SCREENS.glob("*.py"), *(SCREENS.parent / "assets").glob("*.tcss")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0] if path.suffix == ".py" else line
            assert not COLOUR.search(code), f"{path.name}:{number}: {line.strip()}"


async def test_switching_theme_recolours_the_rules(repo_factory) -> None:
    root = repo_factory("v1.0.0")
    (root / "README").write_text("dirty\n")  # the clean rule fails: red text with a fix
    app = DockyardApp(root, Services())
    async with app.run_test(size=(120, 30)) as pilot:
        await on_screen(pilot, VersionScreen)
        screen = app.screen
        await settle(pilot, lambda: bool(screen.rules))

        def fail_mark_colour() -> str:
            """The colour the ✘ of the failed rule is painted in."""
            rules = screen.query_one("#rules", Static)
            for y in range(rules.size.height):
                for segment in rules.render_line(y):
                    if segment.text.startswith("✘") and segment.style is not None:
                        return segment.style.color.triplet.hex.upper()
            raise AssertionError("no failed rule on screen")

        assert app.theme == DARK
        assert fail_mark_colour() == DARK_THEME.variables["text-error"]
        await pilot.press("f2")
        await pilot.pause()
        assert app.theme == LIGHT
        assert fail_mark_colour() == LIGHT_THEME.variables["text-error"]
