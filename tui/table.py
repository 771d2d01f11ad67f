"""The wizard's data table: Textual's DataTable with a fix for rows painted too early."""

from __future__ import annotations

from textual import events
from textual.widgets import DataTable


class Table(DataTable[object]):
    """A DataTable that repaints its cells once it has re-measured its columns.

    Textual (8.2.8) measures column widths when the table is idle, but a cell painted before that
    stays cached at the old width: under load the Images screen showed "moves d1e01a2" where the
    row says "moves d1e01a23a99d → new version". Dropping the render caches when the widths
    change fixes what is on screen.
    """

    _painted_widths: tuple[int, ...] = ()

    def on_idle(self, event: events.Idle) -> None:
        widths = tuple(column.content_width for column in self.columns.values())
        if widths != self._painted_widths:
            self._painted_widths = widths
            self._clear_caches()
            self.refresh()
