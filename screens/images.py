"""Step 2, Images and tags: where the release goes and which tags each image gets.

The tag set comes from ``core.tags.compute_tags`` (never-backwards rule included); the registry is
asked in a worker where each alias points now, so the user sees what will move from what.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Checkbox, DataTable, Input, Label, Static

from core.errors import DockyardError
from core.reference import ImageName, parse_image_name
from core.tags import TagPolicy, TagSet, compute_tags, validate_tag
from tui.draft import Draft
from tui.table import Table
from tui.themes import tone
from tui.widgets import StepScreen

if TYPE_CHECKING:
    from collections.abc import Callable

    from tui.services import Services

POLICY_BOXES = (
    ("minor", "X.Y"),
    ("major", "X"),
    ("latest", "latest"),
    ("git_tag", "git tag as written"),
    ("sha", "sha-<commit>"),
)
# What a registry lookup found: tag -> digest (None: the tag does not exist yet), or a problem.
Lookup = dict[str, str | None] | str


class TagsLooked(Message):
    """Where each image's tags point now (or the registry's problem), and the tag sets the
    never-backwards rule leaves, by image."""

    def __init__(self, found: dict[str, Lookup], judged: dict[str, TagSet]) -> None:
        super().__init__()
        self.found = found
        self.judged = judged


def split_names(text: str) -> list[str]:
    return [part for part in text.replace(",", " ").split() if part]


def short_digest(digest: str | None) -> str:
    if digest is None:
        return "—"
    return digest.removeprefix("sha256:")[:12]


class ImagesScreen(StepScreen):
    STEP = "Images"
    AUTO_FOCUS = "#images"
    HELP = (
        "Name the images to publish (registry/namespace/name, no tag) and pick the aliases. The "
        "version tag is pushed first; aliases move to it only after it is verified. An alias never "
        "moves backwards: releasing an older version leaves latest and the series tags alone. The "
        "table shows where each tag points in the registry now."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "lookup", "Ask registry", id="images.lookup"),
    ]

    def __init__(self, draft: Draft, services: Services) -> None:
        super().__init__(draft, services)
        self.names: list[ImageName] = []
        self.problems: list[str] = []
        self.policy: TagPolicy = draft.tag_policy or TagPolicy()
        self.tag_set: TagSet | None = None
        self.lookups: dict[str, Lookup] = {}
        self.judged: dict[str, TagSet] = {}  # tag sets after the registry's releases weighed in
        self._debounce: Timer | None = None
        self._computed: tuple[object, ...] = ()  # the inputs the table was computed from

    def compose_body(self) -> ComposeResult:
        yield Static(Text("Images", style="bold"), classes="section")
        yield Input(", ".join(self.draft.images), id="images",
                    placeholder="ghcr.io/acme/app, docker.io/acme/app")
        yield Static("", id="image-problems", classes="error-text")
        yield Static(Text("Aliases (the version tag is always pushed)", style="bold"),
                     classes="section")
        with Horizontal(classes="checks"):
            for name, label in POLICY_BOXES:
                yield Checkbox(label, getattr(self.policy, name), id=f"tag-{name}")
        with Horizontal(classes="row"):
            yield Label("Extra tags")
            yield Input(" ".join(self.policy.extra), id="extra",
                        placeholder="stable edge")
        yield Static(Text("What will be pushed", style="bold"), classes="section")
        yield Table(id="tag-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="withheld")

    def on_mount(self) -> None:
        table = self.query_one("#tag-table", DataTable)
        table.add_columns("image", "tag", "kind", "now points at", "after release")
        self.recompute()

    def commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        return [("Ask the registry again", "Look up where each tag points now",
                 self.action_lookup)]

    # -- editing -------------------------------------------------------------------------------

    @on(Input.Changed)
    @on(Checkbox.Changed)
    def edited(self) -> None:
        if self._inputs() == self._computed:
            return  # e.g. the Changed each field sends when it mounts
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(0.25, self.recompute)

    def _inputs(self) -> tuple[object, ...]:
        return (self.query_one("#images", Input).value, self.query_one("#extra", Input).value,
                *(self.query_one(f"#tag-{name}", Checkbox).value for name, _ in POLICY_BOXES))

    def recompute(self) -> None:
        """Parse names and policy, compute the tag set, show it, then ask the registry."""
        self._computed = self._inputs()
        self.names, self.problems = [], []
        for text in split_names(self.query_one("#images", Input).value):
            try:
                name = parse_image_name(text)
            except DockyardError as err:
                self.problems.append(str(err))
                continue
            if name in self.names:
                self.problems.append(f"image: {text!r} is given twice; list each image once")
            else:
                self.names.append(name)
        if not self.names and not self.problems:
            self.problems.append("image: no image given; e.g. ghcr.io/acme/app")
        self.tag_set = None
        self.judged = {}
        try:
            extra = tuple(split_names(self.query_one("#extra", Input).value))
            for tag in extra:
                validate_tag(tag)
            flags = {name: self.query_one(f"#tag-{name}", Checkbox).value
                     for name, _ in POLICY_BOXES}
            self.policy = TagPolicy(extra=extra, **flags)
            if self.draft.version is not None:
                self.tag_set = compute_tags(self.draft.version, self.draft.known, self.policy,
                                            self.draft.commit)
        except DockyardError as err:
            self.problems.append(str(err))
        self.query_one("#image-problems", Static).update("\n".join(self.problems))
        self.refresh_bindings()
        self.show_table()
        self.action_lookup()

    def retone(self) -> None:
        self.show_table()

    def show_table(self) -> None:
        table = self.query_one("#tag-table", DataTable)
        table.clear()
        tags = self.tag_set
        if tags is None:
            return
        computed = tags
        held_by_registry: list[str] = []
        for name in self.names:
            lookup = self.lookups.get(str(name))
            tags = self.judged.get(str(name), computed)
            held_by_registry += [f"{alias}: {reason}" for alias, reason in tags.withheld
                                 if (alias, reason) not in computed.withheld]
            table.add_row(str(name), tags.version_tag, "version",
                          *self._where(lookup, tags.version_tag, version=True))
            for alias in tags.aliases:
                table.add_row("", alias, "alias", *self._where(lookup, alias, version=False))
            for alias, reason in tags.withheld:
                now = self._now(lookup, alias)
                table.add_row("", alias, "withheld", now,
                              Text(f"stays: {reason}", style=tone("warning")))
        withheld = "; ".join([*(f"{alias}: {reason}" for alias, reason in computed.withheld),
                              *dict.fromkeys(held_by_registry)])
        self.query_one("#withheld", Static).update(
            Text(f"Not moved (never backwards): {withheld}", style=tone("warning"))
            if withheld else "")

    @staticmethod
    def _now(lookup: Lookup | None, tag: str) -> str | Text:
        if lookup is None:
            return Text("asking…", style="dim")
        if isinstance(lookup, str):
            return Text("unknown", style=tone("error"))
        return short_digest(lookup.get(tag))

    def _where(self, lookup: Lookup | None, tag: str, *, version: bool) -> tuple[str | Text, Text]:
        now = self._now(lookup, tag)
        if isinstance(lookup, str):
            return now, Text(lookup, style=tone("error"))
        if lookup is None:
            return now, Text("")
        digest = lookup.get(tag)
        if version:
            if digest is None:
                return now, Text("pushed (new)", style=tone("success"))
            return now, Text("exists: re-run checks it is this commit", style=tone("warning"))
        if digest is None:
            return now, Text("created → new version", style=tone("success"))
        return now, Text(f"moves {short_digest(digest)} → new version", style=tone("accent"))

    # -- registry ------------------------------------------------------------------------------

    def action_lookup(self) -> None:
        if self.tag_set is not None and self.names:
            tags = (*self.tag_set.all, *(alias for alias, _ in self.tag_set.withheld))
            self.lookup_tags(list(self.names), tags)

    @work(thread=True, exit_on_error=False, exclusive=True, group="registry")
    def lookup_tags(self, names: list[ImageName], tags: tuple[str, ...]) -> None:
        """Where each tag points now; a registry problem is shown per image, not as a modal.
        The aliases are judged never-backwards here as the run will judge them again."""
        found: dict[str, Lookup] = {}
        judged: dict[str, TagSet] = {}
        tag_set, version = self.tag_set, self.draft.version
        for name in names:
            try:
                now = self.services.tags_now(name, tags, tag_set, version)
            except DockyardError as err:
                found[str(name)] = str(err)
                continue
            found[str(name)] = now.digests
            if now.judged is not None:
                judged[str(name)] = now.judged
        self.post_message(TagsLooked(found, judged))

    def on_tags_looked(self, message: TagsLooked) -> None:
        message.stop()
        self.lookups.update(message.found)
        self.judged.update(message.judged)
        self.show_table()
        self.refresh_bindings()

    def full_errors(self) -> list[str]:
        found = list(self.problems)
        found += [f"{name}: {lookup}" for name, lookup in self.lookups.items()
                  if isinstance(lookup, str)]
        return found

    # -- next ----------------------------------------------------------------------------------

    def next_draft(self) -> Draft | None:
        self.recompute()
        if self.problems:
            self.notify("\n".join(self.problems), title="Images", severity="error")
            return None
        return dataclasses.replace(
            self.draft,
            images=tuple(str(name) for name in self.names),
            tag_policy=self.policy,
        )
