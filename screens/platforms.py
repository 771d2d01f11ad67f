"""Step 3, Platforms: a checklist, each platform marked native / emulated / unsupported.

What the builder can do comes from the engine (buildx builder nodes, or podman's host and QEMU
handlers), asked in a worker; the screen only lays it out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Label, Select, SelectionList, Static
from textual.widgets.selection_list import Selection

from core.errors import DockyardError
from core.platforms import KNOWN_PLATFORMS, parse_platforms
from tui.draft import Draft
from tui.themes import tone
from tui.widgets import CheckList, StepScreen

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from core.engines.base import Engine, PlatformSupport
    from core.platforms import Platform
    from tui.services import Services

ENGINES = (("auto (buildx, else podman)", "auto"), ("docker buildx", "buildx"),
           ("podman", "podman"))
HOW_ROLE = {"native": "success", "emulated": "warning", "unknown": "error"}


@dataclass(frozen=True)
class EngineInfo:
    """What the engine said, keyed for the checklist: support by platform string."""

    engine: str
    nodes: tuple[tuple[str, tuple[str, ...]], ...]  # buildx: (node, platforms); podman: ()
    support: dict[str, PlatformSupport]
    builder: str | None = None  # buildx: the builder these nodes belong to
    builders: tuple[str, ...] = ()  # buildx: every builder to choose from
    note: str = ""  # why auto picked this engine (buildx's builder did not answer)


def engine_support(engine: Engine, platforms: Sequence[Platform]) -> EngineInfo:
    found = engine.support(platforms)
    return EngineInfo(engine=engine.name, nodes=found.nodes,
                      support={item.platform: item for item in found.platforms},
                      builder=found.builder, builders=found.builders, note=engine.note)


class EngineProbed(Message):
    """What the engine (and buildx's builder) can build here."""

    def __init__(self, info: EngineInfo) -> None:
        super().__init__()
        self.info = info


class PlatformsScreen(StepScreen):
    STEP = "Platforms"
    AUTO_FOCUS = "#platforms"
    HELP = (
        "Tick the platforms to publish. Each shows whether the engine builds it natively, by "
        "emulation (QEMU: slower, and RUN steps need a binfmt handler) or not at all. Pick the "
        "engine when both docker buildx and podman are installed; buildx shows its builder nodes "
        "and, when there are several builders, which one to use."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "select_all", "All", id="platforms.select_all"),
        Binding("ctrl+r", "probe", "Ask engine", id="platforms.probe"),
    ]

    def __init__(self, draft: Draft, services: Services) -> None:
        super().__init__(draft, services)
        chosen = list(draft.platforms)
        offered = [str(p) for p in KNOWN_PLATFORMS]
        self.offered = chosen + [p for p in offered if p not in chosen]
        self.info: EngineInfo | None = None
        self._engine_asked: str | None = None  # the engine the last probe was for

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label("Engine")
            yield Select(ENGINES, value=self.draft.engine, allow_blank=False, id="engine")
        with Horizontal(classes="row", id="builder-row"):
            yield Label("Builder")
            yield Select[str]([], prompt="current builder", id="builder-choice")
        yield Static(Text("asking the engine…", style="dim"), id="builder")
        yield Static(Text("Platforms", style="bold"), classes="section")
        yield CheckList(
            *[Selection(self._prompt(p), p, p in self.draft.platforms) for p in self.offered],
            id="platforms",
        )

    def on_mount(self) -> None:
        self.query_one("#builder-row").display = False  # shown when buildx offers a choice
        self.action_probe()

    def commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        return [("Select all platforms the engine supports", "Tick every buildable platform",
                 self.action_select_all),
                ("Ask the engine again", "Re-read builder nodes and emulation", self.action_probe)]

    def _prompt(self, platform: str) -> Text:
        text = Text(f"{platform:<16}")
        support = self.info.support.get(platform) if self.info else None
        if support is None:
            text.append("…" if self.info is None else "", style="dim")
        elif not support.supported:
            text.append(f"unsupported  {support.detail}", style=tone("error", bold=True))
        else:
            role = HOW_ROLE.get(support.how)
            text.append(support.how, style=tone(role) if role else "")
            if support.detail:
                text.append(f"  {support.detail}", style="dim")
        return text

    @on(Select.Changed, "#engine")
    def engine_changed(self) -> None:
        if self.query_one("#engine", Select).value != self._engine_asked:  # not the mount echo
            self.action_probe()

    @on(Select.Changed, "#builder-choice")
    def builder_changed(self) -> None:
        if self.info is not None and self.chosen_builder() != self.info.builder:
            self.action_probe()

    def chosen_builder(self) -> str | None:
        value = self.query_one("#builder-choice", Select).value
        return value if isinstance(value, str) else None

    def action_probe(self) -> None:
        self.info = None
        self.query_one("#builder", Static).update(Text("asking the engine…", style="dim"))
        self._engine_asked = str(self.query_one("#engine", Select).value)
        builder = None if self._engine_asked == "podman" else (
            self.chosen_builder() or self.draft.builder)
        self.probe(self._engine_asked, builder)

    @work(thread=True, exit_on_error=False, exclusive=True, group="engine")
    def probe(self, engine_name: str, builder: str | None) -> None:
        engine = self.services.engine(engine_name, builder)
        platforms = parse_platforms(self.offered)
        self.post_message(EngineProbed(engine_support(engine, platforms)))

    def worker_failed(self, worker: Any, error: BaseException) -> None:
        self.query_one("#builder", Static).update(Text(str(error), style=tone("error")))
        super().worker_failed(worker, error)

    def on_engine_probed(self, message: EngineProbed) -> None:
        message.stop()
        self.info = message.info
        self.show_info()

    def retone(self) -> None:
        if self.info is not None:
            self.show_info()

    def show_info(self) -> None:
        info = self.info
        if info is None:
            return
        self.show_builders(info)
        text = Text("Engine ", style="bold")
        text.append(info.engine)
        if info.builder:
            text.append(f", builder {info.builder}")
        if info.note:
            text.append(f"\n  {info.note}", style=tone("warning"))
        for name, platforms in info.nodes:
            text.append(f"\n  node {name}: ", style="bold")
            text.append(", ".join(platforms) or "no platforms")
        self.query_one("#builder", Static).update(text)
        selection = self.query_one("#platforms", SelectionList)
        chosen = set(selection.selected)
        highlighted = selection.highlighted  # a probe answering late keeps the user's place
        selection.clear_options()
        selection.add_options([Selection(self._prompt(p), p, p in chosen) for p in self.offered])
        if highlighted is not None and highlighted < selection.option_count:
            selection.highlighted = highlighted

    def show_builders(self, info: EngineInfo) -> None:
        """A choice of builder only where there is one: buildx with several builders."""
        row, choice = self.query_one("#builder-row"), self.query_one("#builder-choice", Select)
        row.display = len(info.builders) > 1
        if row.display:
            with choice.prevent(Select.Changed):
                choice.set_options([(name, name) for name in info.builders])
                if info.builder in info.builders:
                    choice.value = info.builder

    def action_select_all(self) -> None:
        selection = self.query_one("#platforms", SelectionList)
        if self.info is None:
            return
        for platform in self.offered:
            support = self.info.support.get(platform)
            if support is not None and support.supported:
                selection.select(platform)

    def next_draft(self) -> Draft | None:
        ticked = set(self.query_one("#platforms", SelectionList).selected)
        chosen = [p for p in self.offered if p in ticked]
        try:
            platforms = parse_platforms(chosen)
        except DockyardError as err:
            self.show_error(err)
            return None
        if not platforms:
            self.notify("Tick at least one platform", title="Platforms", severity="error")
            return None
        if self.info is not None:
            refused = [str(p) for p in platforms
                       if not self.info.support.get(str(p), None) or
                       not self.info.support[str(p)].supported]
            if refused:
                self.notify(f"{self.info.engine} cannot build {', '.join(refused)}",
                            title="Platforms", severity="error")
                return None
        engine = str(self.query_one("#engine", Select).value)
        builder = None
        if self.info is not None and self.info.engine == "buildx" and engine != "podman":
            builder = self.chosen_builder() or self.draft.builder
        return dataclasses.replace(
            self.draft,
            platforms=tuple(str(p) for p in platforms),
            engine=engine,
            builder=builder,
        )
