"""The registry browser: what a repository already holds, tag by tag.

Tag names come in one request (the client follows the registry's own paging); the expensive part,
each tag's manifests and configs, is fetched a page at a time ("load more") in a thread worker,
so a repository with hundreds of tags opens at once. Filtering is local and needs no request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, Static
from textual.worker import Worker, WorkerState, get_current_worker

import assets
from core.errors import DockyardError
from core.inspect import TagDetails, inspect_tag, order_tags
from core.reference import ImageName, parse_reference
from core.registry import RegistryClient, client_for
from core.rendering import human_size, human_time, short_digest
from tui.messages import OpenHistory
from tui.table import Table
from tui.widgets import HelpModal, readable_error, show_status

ASSETS = Path(assets.__file__).resolve().parent
PAGE_SIZE = 20

ClientFactory = Callable[[ImageName], RegistryClient]


def _anonymous_client(image: ImageName) -> RegistryClient:
    return client_for(image)


class BrowserScreen(Screen[None]):
    """Tags of one repository with digest, platforms, attestations, size and creation time."""

    CSS_PATH = ASSETS / "browser.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter", id="browser.focus_filter"),
        Binding("m", "load_more", "Load more", id="browser.load_more"),
        Binding("r", "reload", "Reload", id="browser.reload"),
        Binding("i", "focus_image", "Image", id="browser.focus_image"),
        Binding("h", "history", "History", id="browser.history"),
        Binding("escape", "leave", "Close", id="browser.leave"),
        Binding("q", "close", "Close", show=False, id="browser.close"),
        Binding("question_mark,f1", "help", "Help", id="browser.help"),
    ]

    HELP = (
        "Every tag of one repository, newest versions first, with its digest, platforms, "
        "attestations, size and creation time; a page at a time. Type an image and press Enter; "
        "the filter matches tags, digests and platforms. h opens the image's release history: its "
        "versions newest first with the aliases on each. Escape leaves a text field, then the "
        "browser."
    )

    class TagsListed(Message):
        def __init__(self, name: ImageName, tags: list[str]) -> None:
            super().__init__()
            self.name = name
            self.tags = tags

    class TagLoaded(Message):
        def __init__(self, name: ImageName, details: TagDetails) -> None:
            super().__init__()
            self.name = name
            self.details = details

    def __init__(
        self,
        image: str | None = None,
        *,
        client_factory: ClientFactory = _anonymous_client,
        page_size: int = PAGE_SIZE,
    ) -> None:
        super().__init__()
        self._initial_image = image or ""
        self._client_factory = client_factory
        self.page_size = page_size
        self.image: ImageName | None = None
        self.tags: list[str] = []
        self.details: dict[str, TagDetails] = {}
        self.limit = page_size
        self.status = ""
        self.listing = False  # the tag list of ``image`` has been asked for, not yet received
        self._client: RegistryClient | None = None
        self._client_lock = threading.Lock()  # one request at a time per client
        self._requested: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Static("Registry browser", id="title")
        with Horizontal(id="inputs"):
            yield Input(self._initial_image, placeholder="image, e.g. ghcr.io/acme/app",
                        id="image")
            yield Input(placeholder="filter: tag, digest or platform", id="filter")
        yield Table(id="tags", cursor_type="row", zebra_stripes=True)
        yield Static("", id="detail")
        with Horizontal(id="bottom"):
            yield Static("", id="status")
            yield Button("Load more (m)", id="more", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#tags", DataTable).add_columns(
            "Tag", "Digest", "Platforms", "Attest.", "Size", "Created"
        )
        if self._initial_image:
            self.action_reload()
        else:
            self.query_one("#image", Input).focus()
            self._set_status("type an image name and press Enter")

    def on_unmount(self) -> None:
        self._close_client()

    # ---- what is shown ---------------------------------------------------------------------

    @property
    def filter_text(self) -> str:
        return self.query_one("#filter", Input).value.strip().lower()

    def matching_tags(self) -> list[str]:
        needle = self.filter_text
        if not needle:
            return self.tags
        return [tag for tag in self.tags
                if needle in tag.lower()
                or (tag in self.details and self.details[tag].matches(needle))]

    def shown_tags(self) -> list[str]:
        return self.matching_tags()[: self.limit]

    def _render_table(self) -> None:
        table = self.query_one("#tags", DataTable)
        keep = table.cursor_row
        table.clear()
        for tag in self.shown_tags():
            table.add_row(*self._cells(tag), key=tag)
        if table.row_count:
            table.move_cursor(row=min(max(keep, 0), table.row_count - 1))
        self._render_detail()
        self._render_status()

    def _cells(self, tag: str) -> tuple[str, ...]:
        details = self.details.get(tag)
        if details is None:
            return (tag, "…", "…", "…", "…", "…")
        if details.problem and not details.platforms:
            return (tag, short_digest(details.digest) or "—", f"⚠ {details.problem}", "", "", "")
        platforms = ", ".join(p.platform for p in details.platforms)
        return (tag, short_digest(details.digest), platforms, str(len(details.attestations)),
                human_size(details.size), human_time(details.created))

    def _render_detail(self) -> None:
        widget = self.query_one("#detail", Static)
        table = self.query_one("#tags", DataTable)
        shown = self.shown_tags()
        if self.image is None or not shown or not 0 <= table.cursor_row < len(shown):
            widget.update("")
            return
        tag = shown[table.cursor_row]
        details = self.details.get(tag)
        lines = [f"{self.image}:{tag}"]
        if details is not None:
            kind = _KINDS.get(details.media_type, details.media_type or "unknown type")
            lines.append(f"{kind} {details.digest}")
            lines += [f"  {p.platform:<16} {short_digest(p.digest)}  {human_size(p.size):>9}  "
                      f"created {human_time(p.created)}" for p in details.platforms]
            if details.attestations:
                lines.append(f"  + {len(details.attestations)} attestation manifest(s)")
            if details.problem:
                lines.append(f"  ⚠ {details.problem}")
        lines.append(f"pull: docker pull {self.image}:{tag}")
        widget.update("\n".join(lines))

    def _render_status(self) -> None:
        if self.image is None or self.listing:
            return  # "listing the tags of …" stays until the list arrives, never "0 tags"
        matching = len(self.matching_tags())
        shown = min(matching, self.limit)
        text = f"{len(self.tags)} tags in {self.image}"
        if self.filter_text:
            text += f", {matching} match {self.filter_text!r}"
        text += f", showing {shown}"
        pending = sum(1 for tag in self.shown_tags() if tag not in self.details)
        if pending:
            text += f", reading {pending}…"
        if self._client is not None and self._client.rate_limit is not None:
            text += f" · rate limit: {self._client.rate_limit.describe()}"  # Docker Hub's
        self._set_status(text)
        self.query_one("#more", Button).disabled = shown >= matching

    # ---- actions -----------------------------------------------------------------------------

    def action_help(self) -> None:
        keys = [(b.binding.key_display or b.binding.key, b.binding.description)
                for b in self.active_bindings.values() if b.binding.description]
        self.app.push_screen(HelpModal("Registry browser — help", self.HELP,
                                       list(dict.fromkeys(keys))))

    def action_history(self) -> None:
        if self.image is not None:
            self.post_message(OpenHistory(self.image))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """History needs an image (greyed out until one is browsed)."""
        if action == "history":
            return self.image is not None or None
        return True

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_focus_image(self) -> None:
        self.query_one("#image", Input).focus()

    def action_leave(self) -> None:
        """Escape leaves a text field first, then the screen."""
        if isinstance(self.focused, Input):
            self.query_one("#tags", DataTable).focus()
        else:
            self.action_close()

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#image")
    def action_reload(self) -> None:
        text = self.query_one("#image", Input).value.strip()
        if not text:
            self._set_status("type an image name and press Enter", error=True)
            self.query_one("#image", Input).focus()
            return
        try:
            reference = parse_reference(text)
        except DockyardError as err:
            self._set_status(str(err), error=True)
            self.query_one("#image", Input).focus()
            return
        if reference.tag and not self.query_one("#filter", Input).value:
            self.query_one("#filter", Input).value = reference.tag
        self._close_client()
        self.image = reference.name
        self.refresh_bindings()  # History is offered once there is an image
        self.tags = []
        self.details = {}
        self._requested = set()
        self.limit = self.page_size
        self.listing = True
        self._render_table()
        self._set_status(f"listing the tags of {self.image}…")
        self._list_tags(reference.name)
        self.query_one("#tags", DataTable).focus()

    @on(Button.Pressed, "#more")
    def action_load_more(self) -> None:
        if self.limit >= len(self.matching_tags()):
            self._set_status("no more tags")
            return
        self.limit += self.page_size
        self._render_table()
        self._fetch_shown()

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self.limit = self.page_size
        if self.image is not None:
            self._render_table()
            self._fetch_shown()

    @on(DataTable.RowHighlighted, "#tags")
    def _row_highlighted(self) -> None:
        self._render_detail()

    # ---- workers -------------------------------------------------------------------------------

    def _client_for(self, name: ImageName) -> RegistryClient:
        if self._client is None:
            self._client = self._client_factory(name)
        return self._client

    def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with self._client_lock:
                client.close()

    @work(thread=True, exit_on_error=False, exclusive=True, group="tags", description="tags")
    def _list_tags(self, name: ImageName) -> None:
        with self._client_lock:
            tags = self._client_for(name).list_tags(name.path)
        self.post_message(self.TagsListed(name, order_tags(tags)))

    def _fetch_shown(self) -> None:
        wanted = [tag for tag in self.shown_tags() if tag not in self._requested]
        if self.image is not None and wanted:
            self._requested.update(wanted)
            self._inspect(self.image, wanted)

    @work(thread=True, exit_on_error=False, group="details", description="inspect tags")
    def _inspect(self, name: ImageName, tags: Sequence[str]) -> None:
        worker = get_current_worker()
        for tag in tags:
            if worker.is_cancelled:
                return
            with self._client_lock:
                client = self._client
                if client is None:
                    return
                try:
                    details = inspect_tag(client, name.path, tag)
                except DockyardError as err:
                    details = TagDetails(tag, problem=str(err))
            self.post_message(self.TagLoaded(name, details))

    def on_browser_screen_tags_listed(self, message: TagsListed) -> None:
        if message.name != self.image:
            return
        self.tags = message.tags
        self.listing = False
        self._render_table()
        self._fetch_shown()

    def on_browser_screen_tag_loaded(self, message: TagLoaded) -> None:
        if message.name != self.image:
            return
        self.details[message.details.tag] = message.details
        table = self.query_one("#tags", DataTable)
        tag = message.details.tag
        if tag in self.shown_tags() and tag in table.rows:
            for column, value in zip(table.columns, self._cells(tag), strict=True):
                table.update_cell(tag, column, value, update_width=True)
        self._render_detail()
        self._render_status()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.listing = False
            self._set_status(readable_error(event.worker.error), error=True)

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status = text
        show_status(self.query_one("#status", Static), text, error=error)


_KINDS = {
    "application/vnd.oci.image.index.v1+json": "OCI index",
    "application/vnd.docker.distribution.manifest.list.v2+json": "Docker manifest list",
    "application/vnd.oci.image.manifest.v1+json": "OCI image",
    "application/vnd.docker.distribution.manifest.v2+json": "Docker image",
}

