"""The question before a rollback: which aliases move from where to where, then Confirm or
Cancel. The plan was made (and the target verified) before the modal opens; it moves nothing
itself, it only answers True (move them) or False."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from tui.themes import tone
from tui.widgets import OnceModal

if TYPE_CHECKING:
    from core.rollback import RollbackPlan


class RollbackModal(OnceModal[bool]):
    """"Point aliases here" on a version: the plan in words, Confirm (y) / Cancel (n, escape).
    With nothing to move, Confirm is disabled and the modal says so."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Confirm", id="rollback.confirm"),
        Binding("n,escape", "answer(False)", "Cancel", id="rollback.cancel"),
    ]

    def __init__(self, plan: RollbackPlan) -> None:
        super().__init__(classes="modal")
        self.plan = plan

    def compose(self) -> ComposeResult:
        plan = self.plan
        target = plan.version.image_tag
        with Vertical(classes="dialog"):
            yield Static(Text(f"Point aliases at {plan.name}:{target}?", style="bold"),
                         id="title")
            yield Static(f"{plan.digest}\nverified: {', '.join(plan.platforms)}", id="target")
            yield Static("\n".join(plan.lines()), id="moves")
            note = ("Nothing to do: every alias is already there." if plan.nothing_to_do else
                    "Newer versions stay published; a report records where each alias was.")
            yield Static(Text(note, style=tone("warning")), id="note")
            with Horizontal(classes="buttons"):
                yield Button("Confirm (y)", id="confirm", variant="warning",
                             disabled=plan.nothing_to_do)
                yield Button("Cancel (n)", id="cancel", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer and not self.plan.nothing_to_do)
