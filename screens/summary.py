"""Verify & summary: what the registry holds now, as the release verified it.

A tag x platform matrix (platform manifest digest and size; attestations apart), which aliases
moved from what to what, pull commands to copy, and where the report and the full log are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, DataTable, Footer, Static

from core.errors import DockyardError
from core.image import read_platform
from core.reference import parse_image_name
from core.rendering import human_size
from tui.draft import BuildOutcome, Draft
from tui.table import Table
from tui.themes import tone
from tui.widgets import DockyardScreen, StepBar

if TYPE_CHECKING:
    from core.verify import PlatformResult, TagResult, VerifyReport
    from tui.services import Services

QUIT, AGAIN, REVIEW = "quit", "again", "review"


class SizesRead(Message):
    """Bytes (config + layers) of each platform manifest, by digest."""

    def __init__(self, sizes: dict[str, int]) -> None:
        super().__init__()
        self.sizes = sizes


def short(digest: str | None) -> str:
    return digest.removeprefix("sha256:")[:12] if digest else "absent"


def final_reports(verify: list[VerifyReport]) -> list[VerifyReport]:
    """The last verification of each image (the alias check includes the version tag too)."""
    return list({report.image: report for report in verify}.values())


class SummaryScreen(DockyardScreen[str]):
    STEP = "Summary"
    AUTO_FOCUS = "#quit"
    HELP = (
        "What the registry holds after the release: each tag against each platform (the platform "
        "image's digest and size), attestations listed apart, the aliases that moved and where "
        "from, commands to pull the image, and the report and log files."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "again", "New release", id="summary.again"),
        Binding("c", "copy", "Copy pull commands", id="summary.copy"),
        Binding("escape", "review", "Back to review", id="summary.review"),
    ]

    def __init__(self, draft: Draft, services: Services, outcome: BuildOutcome) -> None:
        super().__init__(draft, services)
        self.outcome = outcome
        self.reports = final_reports(outcome.verify)
        self.sizes: dict[str, int] = {}  # platform manifest digest -> bytes
        self.platforms = [str(p) for p in draft.plan.platforms] if draft.plan else []

    def compose(self) -> ComposeResult:
        yield StepBar(self.STEP)
        with VerticalScroll(classes="body"):
            yield Static(self.banner(), id="banner")
            yield Static(Text("Tags × platforms", style="bold"), classes="section matrix-part")
            yield Table(id="matrix", cursor_type="none", zebra_stripes=True,
                        classes="matrix-part")
            yield Static("", id="attestations", classes="hint matrix-part")
            yield Static(Text("Aliases", style="bold"), classes="section aliases-part")
            yield Table(id="aliases", cursor_type="none", classes="aliases-part")
            yield Static(Text("Pull", style="bold"), classes="section pull-part")
            yield Static(self.pull_commands(), id="pull", classes="pull-part")
            yield Static(self.files(), id="files")
        with Horizontal(classes="nav"):
            yield Button("◀ Back to review", id="review")
            yield Button("New release", id="again")
            yield Button("Quit", id="quit", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.show_matrix()
        self.show_aliases()
        if self.reports:
            self.read_sizes()
        # A failed or cancelled run shows only what it left: no empty tables, and no pull
        # command for a version the registry does not hold.
        for section, shown in (("matrix", bool(self.reports)),
                               ("aliases", self.query_one("#aliases", DataTable).row_count > 0),
                               ("pull", self.version_pushed)):
            for widget in self.query(f".{section}-part"):
                widget.display = shown
        if not self.version_pushed:
            self.refresh_bindings()

    @property
    def version_pushed(self) -> bool:
        """The version tag is in the registry: the run verified it (or the whole release)."""
        return self.outcome.ok or any(
            tag.role == "version" and tag.ok for report in self.reports for tag in report.tags)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy":
            return self.version_pushed
        return super().check_action(action, parameters)

    def commands(self) -> list[tuple[str, str, Any]]:
        return [("Copy pull commands", "Put the pull commands on the clipboard", self.action_copy),
                ("New release", "Start again at the Version step", self.action_again)]

    def banner(self) -> Text:
        outcome = self.outcome
        version = self.draft.plan.version.text if self.draft.plan else "?"
        if outcome.ok:
            return Text(f"✔ Release {version} verified in {outcome.seconds:.0f}s",
                        style=tone("success", bold=True))
        title = "Cancelled" if outcome.cancelled else f"Failed in {outcome.failed_phase or '?'}"
        text = Text(f"✘ {title}: {outcome.error}", style=tone("error", bold=True))
        if outcome.registry_state:
            text.append(f"\nRegistry now: {outcome.registry_state}", style=tone("warning"))
        return text

    def pull_commands(self) -> str:
        plan = self.draft.plan
        if plan is None:
            return ""
        lines = []
        for image in plan.images:
            lines.append(f"docker pull {image.name.with_tag(image.tags.version_tag)}")
            for platform in plan.platforms[1:]:
                lines.append(f"docker pull --platform {platform} "
                             f"{image.name.with_tag(image.tags.version_tag)}")
        return "\n".join(lines)

    def files(self) -> Text:
        text = Text()
        if self.outcome.report_path:
            text.append("report: ", style="bold")
            text.append(f"{self.outcome.report_path}\n")
        if self.outcome.log_path:
            text.append("log:    ", style="bold")
            text.append(self.outcome.log_path)
        return text

    def retone(self) -> None:
        self.query_one("#banner", Static).update(self.banner())
        self.show_matrix()

    def show_matrix(self) -> None:
        table = self.query_one("#matrix", DataTable)
        table.clear(columns=True)
        table.add_columns("image", "tag", *self.platforms)
        attestations: list[str] = []
        for report in self.reports:
            image = report.image
            for tag in report.tags:
                by_platform = {p.platform: p for p in tag.platforms}
                cells = [self._cell(tag, by_platform.get(platform)) for platform in self.platforms]
                table.add_row(image, Text(f"{tag.tag} ({tag.role})",
                                          style="" if tag.ok else tone("error")), *cells)
                image = ""
            for item in report.attestations:
                attestations.append(f"{short(item.digest)} {item.kind} for "
                                    f"{short(item.refers_to)}")
        self.query_one("#attestations", Static).update(
            ("attestations: " + "; ".join(attestations)) if attestations else "")

    def _cell(self, tag: TagResult, platform: PlatformResult | None) -> Text:
        if platform is None:  # an alias: it points at the version's index
            return Text(f"→ {short(tag.digest)}", style=tone("success" if tag.ok else "error"))
        digest = platform.digest
        size = self.sizes.get(digest or "")
        text = f"{short(digest)} {human_size(size)}" if size is not None else short(digest)
        return Text(text, style=tone("success") if platform.ok else tone("error", bold=True))

    def show_aliases(self) -> None:
        table = self.query_one("#aliases", DataTable)
        table.add_columns("alias", "was", "now")
        for moved in self.outcome.moved:
            table.add_row(f"{moved.image}:{moved.tag}", short(moved.previous), short(moved.digest))
        held = [(w.image, w.tag, w.reason) for w in self.outcome.withheld]
        plan = self.draft.plan
        if plan is not None:
            held += [(str(image.name), alias, reason) for image in plan.images
                     for alias, reason in image.tags.withheld]
        for image, alias, reason in dict.fromkeys(held):
            table.add_row(f"{image}:{alias}", "unchanged",
                          Text(f"not moved: {reason}", style=tone("warning")))

    @work(thread=True, exit_on_error=False, group="sizes")
    def read_sizes(self) -> None:
        """Platform image sizes (config + layers) from the registry; unknown ones stay blank."""
        sizes: dict[str, int] = {}
        for report in self.reports:
            try:
                name = parse_image_name(report.image)
                client = self.services.registry_client(name)
            except DockyardError:
                continue
            try:
                for tag in report.tags:
                    for platform in tag.platforms:
                        digest = platform.digest
                        if not digest or digest in sizes:
                            continue
                        image = read_platform(client, name.path, digest, config=False)
                        if image.found:
                            sizes[digest] = image.size
            except DockyardError:
                pass
            finally:
                client.close()
        self.post_message(SizesRead(sizes))

    def on_sizes_read(self, message: SizesRead) -> None:
        message.stop()
        self.sizes.update(message.sizes)
        self.show_matrix()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "quit":
            self.dismiss(QUIT)
        elif event.button.id == "again":
            self.action_again()
        elif event.button.id == "review":
            self.action_review()

    def action_again(self) -> None:
        self.dismiss(AGAIN)

    def action_review(self) -> None:
        self.dismiss(REVIEW)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.pull_commands())
        self.notify("Pull commands copied", title="Summary")
