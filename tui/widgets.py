"""Shared pieces of every wizard screen: the step bar, Back/Next, modals and error display."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.strip import Strip
from textual.widgets import Button, Checkbox, Footer, SelectionList, Static
from textual.widgets.option_list import OptionDoesNotExist
from textual.worker import Worker, WorkerState

from core.errors import DockyardError
from tui.draft import Draft, Nav
from tui.themes import tone

if TYPE_CHECKING:
    from tui.services import Services

ResultT = TypeVar("ResultT")

STEPS = ("Version", "Images", "Platforms", "Mode", "Credentials", "Review", "Build", "Summary")

OK_MARK = "✔"
FAIL_MARK = "✘"
CHECKED = "✓"


def describe_error(error: BaseException) -> tuple[str, str, str]:
    """(title, problem, what would be valid) for any error; never a traceback."""
    if isinstance(error, DockyardError):
        return error.field, error.problem, error.valid
    text = " ".join(str(error).split()) or type(error).__name__
    return "unexpected error", f"{type(error).__name__}: {text}", "see the log file or retry"


def show_status(status: Static, text: str | Text, *, error: bool = False) -> None:
    """A screen's status line: ``text`` as written (a registry's words may hold ``[`` that
    markup would swallow), in the error style when ``error``."""
    status.update(text if isinstance(text, Text) else Text(text))
    status.set_class(error, "error")


def readable_error(error: BaseException, *, secret: str = "") -> str:
    """One line for the user: a DockyardError as is, anything else with its type; never the
    secret and never a traceback."""
    if isinstance(error, DockyardError):
        text = str(error)
    else:
        text = f"unexpected {type(error).__name__}: {' '.join(str(error).split())}"
    return text.replace(secret, "***") if secret else text


def status_line(ok: bool | None, label: str, detail: str = "", fix: str = "") -> Text:
    """One ``✔ label  detail`` line, red with its fix when failed, dim when still unknown."""
    text = Text()
    if ok is None:
        text.append("… ", style="dim")
    else:
        text.append(f"{OK_MARK if ok else FAIL_MARK} ", style=tone("success" if ok else "error",
                                                                   bold=not ok))
    text.append(label, style="bold")
    if detail:
        text.append(f"  {detail}")
    if fix and not ok:
        text.append(f"\n    fix: {fix}", style=tone("warning"))
    return text


class CheckList(SelectionList[str]):
    """A SelectionList whose ticked rows show ✓ and unticked rows a blank box, so the state
    reads without colour (a monochrome terminal, a screen reader, a text capture)."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        segments = list(strip)
        if len(segments) < 3 or segments[1].text != Checkbox.BUTTON_INNER:
            return strip
        try:
            selection = self.get_option_at_index(self.scroll_offset.y + y)
        except OptionDoesNotExist:
            return strip
        mark = CHECKED if selection.value in self.selected else " "
        segments[1] = Segment(mark, segments[1].style)
        return Strip(segments, strip.cell_length)


class StepBar(Static):
    """Where the user is: ``Version › Images › ...`` with the current step highlighted.

    When every name does not fit (80 columns), the other steps shrink to their numbers, so all
    eight steps stay visible.
    """

    def __init__(self, current: str) -> None:
        super().__init__(classes="stepbar")
        self.current = current

    def bar(self, *, names: bool) -> Text:
        text = Text(" dockyard  ", style="bold")
        for index, name in enumerate(STEPS):
            if index:
                text.append(" › ", style="dim")
            style = "bold reverse" if name == self.current else (
                "" if name != "Summary" else "dim")
            shown = name if names or name == self.current else ""
            text.append(f" {index + 1} {shown} " if shown else f" {index + 1} ", style=style)
        return text

    def render(self) -> Text:
        full = self.bar(names=True)
        return full if full.cell_len <= self.size.width else self.bar(names=False)


def _leave_once(screen: DismissOnce[Any] | OnceModal[Any],
                leave: Callable[[], AwaitComplete]) -> AwaitComplete:
    """A second Enter or click that arrives while a screen is leaving would hand on a second
    result and pop the screen under it (a ScreenStackError traceback, seen in a real terminal
    on Review): only the first dismiss leaves."""
    if screen.dismissed:
        return AwaitComplete(asyncio.sleep(0, "already leaving: nothing more to await"))
    screen.dismissed = True
    return leave()


class DismissOnce(Screen[ResultT]):
    """A screen that leaves once (see _leave_once)."""

    dismissed = False

    def dismiss(self, result: ResultT | None = None) -> AwaitComplete:
        return _leave_once(self, lambda: super(DismissOnce, self).dismiss(result))


class OnceModal(ModalScreen[ResultT]):
    """A modal that leaves once; not built on DismissOnce, so that it keeps ModalScreen's
    styles ahead of Screen's."""

    dismissed = False

    def dismiss(self, result: ResultT | None = None) -> AwaitComplete:
        return _leave_once(self, lambda: super(OnceModal, self).dismiss(result))


class ErrorModal(OnceModal[None]):
    """A readable error: what is wrong and what would be valid."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "dismiss_modal", "Close", id="error.dismiss_modal"),
    ]

    def __init__(self, error: BaseException) -> None:
        super().__init__(classes="modal")
        self.title_text, self.problem, self.valid = describe_error(error)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error"):
            yield Static(Text(f"Problem with {self.title_text}", style=tone("error", bold=True)))
            yield Static(self.problem, id="problem")
            if self.valid:
                yield Static(Text(f"Fix: {self.valid}", style=tone("warning")), id="valid")
            yield Button("Close", id="close", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_dismiss_modal(self) -> None:
        self.dismiss(None)


class ConfirmModal(OnceModal[bool]):
    """Yes/no before anything that cannot be undone (cut a tag, cancel a build, quit)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.answer_true"),
        Binding("n,escape", "answer(False)", "No", id="confirm.answer_false"),
    ]

    def __init__(self, question: str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__(classes="modal")
        self.question = question
        self.yes_label = yes
        self.no_label = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, id="question")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes_label} (y)", id="yes", variant="warning")
                yield Button(f"{self.no_label} (n)", id="no", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class HelpModal(OnceModal[None]):
    """``?``: what this screen is for and its keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,f1,q", "close", "Close", id="help.close"),
    ]

    def __init__(self, title: str, body: str, keys: list[tuple[str, str]]) -> None:
        super().__init__(classes="modal")
        self.help_title = title
        self.body = body
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Static(Text(self.help_title, style="bold"))
            yield Static(self.body)
            keys = Text()
            for key, description in self.keys:
                keys.append(f"{key:>12}  ", style=tone("accent", bold=True))
                keys.append(f"{description}\n")
            keys.append(f"{'ctrl+p':>12}  ", style=tone("accent", bold=True))
            keys.append("command palette (every action, themes)\n")
            yield Static(keys, id="keys")
            yield Button("Close", id="close", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class DetailsModal(OnceModal[None]):
    """The whole text of every problem a screen shows shortened in a table or log line."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,f3", "close", "Close", id="details.close"),
    ]

    def __init__(self, title: str, problems: list[str]) -> None:
        super().__init__(classes="modal")
        self.details_title = title
        self.problems = problems

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog error"):
            yield Static(Text(self.details_title, style="bold"))
            for problem in self.problems:
                yield Static(Text(f"{FAIL_MARK} {problem}"), classes="problem")
            yield Button("Close", id="close", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class DockyardScreen(DismissOnce[ResultT]):
    """Help, command palette entries and readable worker errors, shared by every screen."""

    STEP: ClassVar[str] = ""
    HELP: ClassVar[str] = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        # ? and f1: the footer shows f1 while a text field takes the ?
        Binding("question_mark,f1", "help", "Help", id="dockyard.help"),
        # f3, not a letter: it also works while a text field has the focus.
        Binding("f3", "details", "Full errors", id="dockyard.details"),
    ]

    def full_errors(self) -> list[str]:
        """Every problem this screen shows, each whole (tables and log lines shorten them)."""
        return []

    def retone(self) -> None:
        """Redraw what was coloured in Python, after a theme change."""

    def action_details(self) -> None:
        problems = self.full_errors()
        if problems:
            self.app.push_screen(DetailsModal(f"{self.STEP} — problems in full", problems))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Full errors is offered only while there is a problem to show."""
        if action == "details":
            return bool(self.full_errors())
        return True

    def __init__(self, draft: Draft, services: Services) -> None:
        super().__init__(classes="step")
        self.draft = draft
        self.services = services

    def commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        """(title, help, callback) for the command palette: this screen's actions."""
        return []

    def action_help(self) -> None:
        keys = [(b.key_display or b.key, b.description) for b in self.active_bindings_list()]
        self.app.push_screen(HelpModal(f"{self.STEP} — help", self.HELP, keys))

    def active_bindings_list(self) -> list[Binding]:
        seen: dict[str, Binding] = {}
        for active in self.active_bindings.values():
            if active.binding.description and active.binding.action not in seen:
                seen[active.binding.action] = active.binding
        return list(seen.values())

    def show_error(self, error: BaseException) -> None:
        self.app.push_screen(ErrorModal(error))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.worker_failed(event.worker, event.worker.error)

    def worker_failed(self, worker: Worker[object], error: BaseException) -> None:
        """Default: a modal with the readable error; screens may also reset their state."""
        self.show_error(error)


class StepScreen(DockyardScreen[Draft | Nav]):
    """A wizard step: edits one part of the draft and returns it, or ``Nav.BACK``.

    Each step names its main control in ``AUTO_FOCUS``, so arrow keys and typing work on arrival
    without a Tab first.

    Subclasses compose their body in ``compose_body`` and return the updated draft from
    ``next_draft`` (or None to stay).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="step.back"),
        Binding("ctrl+n", "next", "Next", priority=True, id="step.next"),
    ]

    def compose(self) -> ComposeResult:
        yield StepBar(self.STEP)
        with VerticalScroll(classes="body"):
            yield from self.compose_body()
        with Horizontal(classes="nav"):
            yield Button("◀ Back", id="back")
            yield from self.compose_actions()
            yield Button("Next ▶", id="next", variant="primary")
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def compose_actions(self) -> ComposeResult:
        """Extra buttons between Back and Next."""
        yield from ()

    def next_draft(self) -> Draft | None:
        return self.draft

    def action_back(self) -> None:
        if not self.query_one("#back", Button).disabled:
            self.dismiss(Nav.BACK)

    def action_next(self) -> None:
        if self.query_one("#next", Button).disabled:
            return
        draft = self.next_draft()
        if draft is not None:
            self.dismiss(draft)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "back":
            event.stop()
            self.action_back()
        elif event.button.id == "next":
            event.stop()
            self.action_next()
