"""Compare two images of one repository: per platform the size delta, layers added and removed,
and the run settings that differ, as ``dockyard diff`` prints them.

The history view opens it on two versions. Reading both images takes a few registry requests, so
it loads in a thread worker through the ``load`` it is given (``Services.diff``), shows progress
meanwhile and one error line, never a traceback, when the registry refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, LoadingIndicator, Static
from textual.worker import Worker, WorkerState

import assets
from tui.themes import tone
from tui.widgets import readable_error, show_status

if TYPE_CHECKING:
    from core.diff import ImageDiff
    from core.reference import ImageName

ASSETS = Path(assets.__file__).resolve().parent

Load = Callable[["ImageName", str, str], "ImageDiff"]


class DiffScreen(Screen[None]):
    """What changed from ``a`` to ``b`` (tags or digests) in ``image``'s repository."""

    CSS_PATH = ASSETS / "diff.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Close", id="diff.leave"),
        Binding("r", "reload", "Reload", id="diff.reload"),
    ]

    class Loaded(Message):
        def __init__(self, diff: ImageDiff) -> None:
            super().__init__()
            self.diff = diff

    def __init__(self, image: ImageName, a: str, b: str, load: Load) -> None:
        super().__init__()
        self.image, self.a, self.b = image, a, b
        self._load = load
        self.diff: ImageDiff | None = None
        self.status = ""

    def compose(self) -> ComposeResult:
        yield Static(f"Compare {self.image}: {self.a} → {self.b}", id="title")
        yield LoadingIndicator(id="loading")
        with VerticalScroll(id="body"):
            yield Static("", id="diff")
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()

    def action_leave(self) -> None:
        self.dismiss(None)

    def action_reload(self) -> None:
        self.diff = None
        self.query_one("#diff", Static).update("")
        self.query_one("#loading").display = True
        self._set_status(f"reading {self.a} and {self.b} from {self.image.registry}…")
        self._read()

    @work(thread=True, exit_on_error=False, exclusive=True, group="diff", description="diff")
    def _read(self) -> None:
        self.post_message(self.Loaded(self._load(self.image, self.a, self.b)))

    def on_diff_screen_loaded(self, message: Loaded) -> None:
        # kept off the assistant's first paint: core.diff loads httpx
        from core.diff import diff_lines

        self.diff = message.diff
        self.query_one("#loading").display = False
        self.query_one("#diff", Static).update(_coloured(diff_lines(message.diff)))
        changed = sum(not pair.same for pair in message.diff.platforms)
        only = len(message.diff.only_a) + len(message.diff.only_b)
        self._set_status("no changes" if message.diff.identical else
                         f"{changed} platform(s) changed, {only} on one side only")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.query_one("#loading").display = False
            self._set_status(readable_error(event.worker.error), error=True)

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status = text
        show_status(self.query_one("#status", Static), text, error=error)


#: The role each kind of line is shown in, by the mark ``diff_lines`` starts it with.
_ROLES = {"+": "success", "-": "error", "~": "warning", "=": "muted", "!": "error"}


def _coloured(lines: list[str]) -> Text:
    text = Text()
    for number, line in enumerate(lines):
        mark = line.lstrip()[:1]
        if line.startswith("only in A"):
            style = tone("error")
        elif line.startswith("only in B"):
            style = tone("success")
        elif line.startswith("  ") and mark in _ROLES:
            style = tone(_ROLES[mark])
        elif line.startswith("!"):
            style = tone("error", bold=True)
        else:  # the title and each platform's header
            style = "bold" if not line.startswith("  ") or number == 0 else ""
        text.append(line + "\n", style=style)
    return text
