"""The trace list alone: rows keyed by trace id, updated in place, newest first, untrusted text literal."""

from __future__ import annotations

from datetime import datetime, timezone

from textual.app import App, ComposeResult

from tracetui.tracking.models import STATE_ERROR, STATE_IN_PROGRESS, STATE_OK, TokenUsage, TraceInfo
from tracetui.ui.widgets.trace_list import TraceList

NOW = datetime(2026, 1, 15, 14, 35, 20, tzinfo=timezone.utc)
NOW_MS = int(NOW.timestamp() * 1000)


def info(n: int, *, state: str = STATE_OK, duration_ms: int | None = 1240, name: str = "") -> TraceInfo:
    return TraceInfo(
        trace_id=f"tr-{n:04d}",
        experiment_id="1",
        request_time_ms=NOW_MS - (100 - n) * 1000,  # larger n = newer
        execution_duration_ms=duration_ms,
        state=state,
        name=name or f"turn-{n}",
        request_preview=f"question {n}",
        token_usage=TokenUsage(26, 14, 40),
    )


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield TraceList(id="traces", tz=timezone.utc, clock=lambda: NOW)


def order(table: TraceList) -> list[str]:
    return [row.key.value for row in table.ordered_rows]


async def test_rows_are_newest_first_whatever_order_they_arrive_in() -> None:
    async with Host().run_test() as pilot:
        table = pilot.app.query_one(TraceList)
        table.apply([info(3), info(1)], [], replace=True)
        table.apply([info(2), info(5)], [])
        table.apply([info(4)], [])
        await pilot.pause()
        assert order(table) == ["tr-0005", "tr-0004", "tr-0003", "tr-0002", "tr-0001"]
        assert table.newest_trace_id == "tr-0005"


async def test_a_changed_row_is_updated_in_place_and_other_rows_are_untouched() -> None:
    async with Host().run_test() as pilot:
        table = pilot.app.query_one(TraceList)
        table.apply([info(1), info(2, state=STATE_IN_PROGRESS, duration_ms=None)], [], replace=True)
        untouched_cell = table.get_cell("tr-0001", "name")
        table.apply([], [info(2, state=STATE_ERROR, duration_ms=2500)])
        await pilot.pause()
        assert table.row_count == 2
        assert table.get_cell("tr-0002", "state").plain == "✗ ERROR"
        assert table.get_cell("tr-0002", "duration").plain == "2.50s"
        # Not a rebuild: the other row's cell is the very same object as before.
        assert table.get_cell("tr-0001", "name") is untouched_cell


async def test_adding_rows_keeps_the_cursor_on_its_trace_unless_following() -> None:
    async with Host().run_test() as pilot:
        table = pilot.app.query_one(TraceList)
        table.apply([info(1), info(2), info(3)], [], replace=True)
        table.select_trace("tr-0002")
        table.apply([info(4)], [])
        await pilot.pause()
        assert table.highlighted_trace_id == "tr-0002"
        table.apply([info(5)], [], follow=True)
        await pilot.pause()
        assert table.highlighted_trace_id == "tr-0005"


async def test_new_rows_are_marked_and_a_replace_marks_nothing() -> None:
    async with Host().run_test() as pilot:
        table = pilot.app.query_one(TraceList)
        table.apply([info(1)], [], replace=True)
        assert table.get_cell("tr-0001", "mark").plain == ""
        table.apply([info(2)], [])
        assert table.get_cell("tr-0002", "mark").plain == "•"


async def test_states_read_without_colour() -> None:
    async with Host().run_test() as pilot:
        table = pilot.app.query_one(TraceList)
        table.apply(
            [info(1), info(2, state=STATE_ERROR), info(3, state=STATE_IN_PROGRESS, duration_ms=None)],
            [],
            replace=True,
        )
        states = {key: table.get_cell(key, "state").plain for key in ("tr-0001", "tr-0002", "tr-0003")}
        assert states == {"tr-0001": "✓ OK", "tr-0002": "✗ ERROR", "tr-0003": "… running"}
        assert table.get_cell("tr-0003", "duration").plain == "…"


async def test_untrusted_text_is_shown_literally_with_controls_visible() -> None:
    hostile = "[bold red]x[/]\x1b[2J\x1b]0;pwned\x07\u202e"
    async with Host().run_test() as pilot:
        table = pilot.app.query_one(TraceList)
        table.apply([info(1, name=hostile)], [], replace=True)
        await pilot.pause()
        cell = table.get_cell("tr-0001", "name")
        assert cell.plain.startswith("[bold red]x[/]")  # markup stays literal
        assert "\x1b" not in cell.plain and "\x07" not in cell.plain and "\u202e" not in cell.plain
        assert cell.spans == []  # no style smuggled in from the text


class Recorder(Host):
    def __init__(self) -> None:
        super().__init__()
        self.moved: list[str | None] = []

    def on_trace_list_moved_by_user(self, message: TraceList.MovedByUser) -> None:
        self.moved.append(message.trace_id)


async def test_a_click_on_a_row_says_where_the_person_moved_to() -> None:
    """A click moves the cursor, then announces the row it landed on (follow mode turns off on it)."""
    app = Recorder()
    async with app.run_test() as pilot:
        table = app.query_one(TraceList)
        table.apply([info(1), info(2), info(3)], [], replace=True)
        await pilot.pause()
        await pilot.click(TraceList, offset=(5, 3))  # the header, then rows 3, 2, 1: the third row
        await pilot.pause()
        assert table.highlighted_trace_id == "tr-0001"
        assert app.moved == ["tr-0001"]
