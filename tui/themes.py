"""dockyard's two themes and the colours screens give their text, by role, from the theme.

Textual's own themes put yellow notes on a light grey (1.5:1) and red errors on black (3.5:1);
these keep every role at 4.5:1 or more against the background, surface and panel (WCAG AA), which
tests/ui/test_themes.py checks. Screens never name a colour: CSS uses ``$text-error`` and the
like, Python asks ``tone("error")`` for the current theme's colour.
"""

from __future__ import annotations

from textual._context import active_app
from textual.theme import Theme

ROLES = ("error", "warning", "success", "accent", "muted")


def _theme(name: str, *, dark: bool, background: str, surface: str, panel: str,
           foreground: str, primary: str, tones: dict[str, str]) -> Theme:
    return Theme(
        name=name, dark=dark, background=background, surface=surface, panel=panel,
        foreground=foreground, primary=primary, secondary=primary, accent=tones["accent"],
        warning=tones["warning"], error=tones["error"], success=tones["success"],
        variables={f"text-{role}": colour for role, colour in tones.items()},
    )


DARK_THEME = _theme(
    "dockyard-dark", dark=True, background="#121212", surface="#1E1E1E", panel="#24292F",
    foreground="#E0E0E0", primary="#0B5CAD",
    tones={"error": "#FF7A8A", "warning": "#FFB454", "success": "#5FD07E",
           "accent": "#FFB454", "muted": "#A0A0A0"},
)
LIGHT_THEME = _theme(
    "dockyard-light", dark=False, background="#F5F5F5", surface="#EBEBEB", panel="#E0E4E8",
    foreground="#1E1E1E", primary="#0B5CAD",
    tones={"error": "#B3261E", "warning": "#8A4B00", "success": "#1E6B34",
           "accent": "#8A4B00", "muted": "#5C5C5C"},
)
THEMES = (DARK_THEME, LIGHT_THEME)


def tone(role: str, *, bold: bool = False) -> str:
    """A Rich style for text of ``role`` in the running app's theme (plain outside an app).

    Read from the theme itself, not the CSS variables, which are refreshed only after a theme
    change has been announced. Another Textual theme picked in the palette gives its base
    colour for the role.
    """
    try:
        theme = active_app.get().current_theme
    except LookupError:
        theme = None
    colour = ""
    if theme is not None:
        colour = theme.variables.get(f"text-{role}") or getattr(theme, role, None) or ""
    if not colour and role == "muted":
        colour = "dim"
    return " ".join(part for part in ("bold" if bold else "", colour) if part)
