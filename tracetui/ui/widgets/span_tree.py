"""The span tree of one trace: hierarchy, type icons, durations and a waterfall bar per span.

Filled lazily: a node's children are added when it is expanded, at most
`CHUNK` at a time (a "… N more" node adds the next chunk), and `show_trace`
auto-expands only until `AUTO_EXPAND_BUDGET` nodes exist. So a 10,000-span
trace opens with a few hundred nodes, never thousands at once.

LLM spans without explicit Ollama/model child spans get derived hop nodes
(see `tracetui.tracking.call_path`). Every label is built from plain text via
`safe_text`: nothing from a trace is parsed as markup.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from rich.style import Style
from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from tracetui.formatting import duration
from tracetui.tracking.call_path import HOP_OLLAMA, DerivedHop, derived_hops, ollama_hosts_in
from tracetui.tracking.models import STATUS_ERROR, Span, Trace
from tracetui.ui.safe_text import safe_line
from tracetui.ui.textual_compat import TOGGLE_STYLE

# One cell each, told apart by shape so the tree reads without colour.
SPAN_TYPE_ICONS: dict[str, str] = {
    "AGENT": "◎",
    "CHAIN": "◇",
    "LLM": "◆",
    "CHAT_MODEL": "◆",
    "TOOL": "▣",
    "RETRIEVER": "⊙",
    "EMBEDDING": "⊕",
    "RERANKER": "⇅",
    "PARSER": "¶",
    "MEMORY": "▤",
}
UNKNOWN_ICON = "○"
DERIVED_ICONS: dict[str, str] = {HOP_OLLAMA: "⇄", "model": "●"}
ERROR_MARK = "✗"
DERIVED_MARK = " (derived)"

TreeItem = Span | DerivedHop


def waterfall(start_frac: float, end_frac: float, width: int, fill: str = "█") -> str:
    """A bar of `width` cells covering [start_frac, end_frac] of the timeline, in half-cell steps."""
    halves = width * 2
    first = min(halves - 1, max(0, int(start_frac * halves)))
    last = max(first + 1, min(halves, int(-(-end_frac * halves // 1))))  # ceil, at least one half
    cells = []
    for cell in range(width):
        left = first <= cell * 2 < last
        right = first <= cell * 2 + 1 < last
        cells.append(fill if left and right else "▌" if left else "▐" if right else " ")
    return "".join(cells)


@dataclass(slots=True)
class SpanNodeData:
    """What a tree node stands for. `item` None marks a "… N more" node for `parent`'s children."""

    item: TreeItem | None
    depth: int
    children: list[TreeItem] = field(default_factory=list)
    next_child: int = 0  # children[:next_child] are already nodes
    parent: TreeNode[SpanNodeData] | None = None  # for a "more" node: the node it adds children to


class SpanTree(Tree[SpanNodeData]):
    """The spans of one trace. Call `show_trace`; listen for `SpanTree.SpanHighlighted`."""

    CHUNK = 200  # children added per expansion or per "… more" node
    AUTO_EXPAND_BUDGET = 400  # nodes `show_trace(expand_all=True)` may create
    AUTO_EXPAND_DEPTH = 60  # and how deep it goes (Tree builds its lines recursively)

    COMPONENT_CLASSES = Tree.COMPONENT_CLASSES | {"span-tree--bar", "span-tree--error"}
    # Vim keys as in the trace list; Tree's own arrows, Enter and space stay.
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ]

    DEFAULT_CSS = """
    SpanTree {
        scrollbar-size-horizontal: 0;
        & > .span-tree--bar { color: $accent; }
        & > .span-tree--error { color: $error; text-style: bold; }
    }
    """

    @dataclass
    class SpanHighlighted(Message):
        """The cursor moved to a span or a derived hop (also sent for the root when a trace is shown).

        A burst (an arrow key held down) coalesces: only the span the cursor rests on matters.
        """

        span: TreeItem
        trace: Trace

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, SpanTree.SpanHighlighted)

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("trace", name=name, id=id, classes=classes)
        self.show_root = False
        self.auto_expand = True
        self.guide_depth = 3  # deep traces stay readable a little longer
        self.trace: Trace | None = None
        self._groups: dict[str | None, list[Span]] = {}
        self._by_id: dict[str, Span] = {}
        self._ollama_hosts: frozenset[str] = frozenset()
        self._trace_start_ns = 0
        self._trace_span_ns = 1

    # --- public API -----------------------------------------------------------

    def show_trace(self, trace: Trace, *, expand_all: bool = True) -> None:
        """Replace the tree with `trace`'s spans and put the cursor on its (first) root span."""
        self.clear()
        self.cursor_line = -1
        self.trace = trace
        self._groups = trace.children_by_parent()
        self._by_id = {span.span_id: span for span in trace.spans}
        self._ollama_hosts = ollama_hosts_in(trace)
        starts = [span.start_time_ns for span in trace.spans]
        ends = [span.end_time_ns or span.start_time_ns for span in trace.spans]
        self._trace_start_ns = min(starts, default=0)
        self._trace_span_ns = max(1, max(ends, default=0) - self._trace_start_ns)
        self.root.data = SpanNodeData(None, -1, children=list(self._groups.get(None, [])))
        self._add_children(self.root)
        self.root.expand()
        if expand_all:
            self._auto_expand()
        first = self.root.children[0] if self.root.children else None
        if first is not None:
            self._tree_lines  # noqa: B018 - builds the lines so the node has its line number
            self.move_cursor(first)

    def clear_trace(self) -> None:
        """Show nothing (no trace selected)."""
        self.clear()
        self.cursor_line = -1
        self.trace = None
        self._groups = {}
        self._by_id = {}

    @property
    def node_count(self) -> int:
        """How many tree nodes exist now (tests use it to prove the tree is filled lazily)."""
        return len(self._tree_nodes)

    # --- filling ----------------------------------------------------------------

    def _children_of(self, item: TreeItem) -> list[TreeItem]:
        """The child items of a span or hop: derived hops first (the call itself), then child spans."""
        if isinstance(item, DerivedHop):
            source = item.source_span
            hops = derived_hops(source, self._groups.get(source.span_id, []), ollama_hosts=self._ollama_hosts)
            below = [hop for before, hop in zip(hops, hops[1:], strict=False) if before.kind == item.kind]
            return list(below)
        spans: list[TreeItem] = list(self._groups.get(item.span_id, []))
        parent = self._by_id.get(item.parent_id) if item.parent_id else None  # type: ignore[union-attr]
        hops = derived_hops(
            item,  # type: ignore[arg-type]
            self._groups.get(item.span_id, []),  # type: ignore[union-attr]
            parent=parent,
            ollama_hosts=self._ollama_hosts,
        )
        return [hops[0], *spans] if hops else spans

    def _add_children(self, node: TreeNode[SpanNodeData]) -> int:
        """Add the next chunk of `node`'s children (and a "more" node if some remain); returns how many."""
        data = node.data
        if data is None:
            return 0
        batch = data.children[data.next_child : data.next_child + self.CHUNK]
        for item in batch:
            children = self._children_of(item)
            node.add(
                safe_line(item.title if isinstance(item, DerivedHop) else item.name, 60),
                SpanNodeData(item, data.depth + 1, children=children),
                allow_expand=bool(children),
            )
        data.next_child += len(batch)
        remaining = len(data.children) - data.next_child
        if remaining > 0:
            node.add_leaf(
                Text(f"… {remaining:,} more (Enter to show {min(remaining, self.CHUNK)})"),
                SpanNodeData(None, data.depth + 1, parent=node),
            )
        return len(batch)

    def _fill(self, node: TreeNode[SpanNodeData]) -> None:
        data = node.data
        if data is not None and data.next_child == 0 and data.children and not node.children:
            self._add_children(node)

    def _auto_expand(self) -> None:
        queue = deque(self.root.children)
        while queue and self.node_count < self.AUTO_EXPAND_BUDGET:
            node = queue.popleft()
            data = node.data
            if data is None or data.item is None or not data.children or data.depth >= self.AUTO_EXPAND_DEPTH:
                continue
            self._fill(node)
            node.expand()
            queue.extend(node.children)

    @on(Tree.NodeExpanded)
    def _fill_on_expand(self, event: Tree.NodeExpanded[SpanNodeData]) -> None:
        self._fill(event.node)

    @on(Tree.NodeSelected)
    def _show_more(self, event: Tree.NodeSelected[SpanNodeData]) -> None:
        data = event.node.data
        if data is None or data.item is not None or data.parent is None:
            return
        event.stop()
        parent = data.parent
        line = event.node.line
        event.node.remove()
        self._add_children(parent)
        self._tree_lines  # noqa: B018 - rebuild so the cursor lands on the first new node
        self.cursor_line = -1  # so the move below announces the new node
        self.cursor_line = line

    @on(Tree.NodeHighlighted)
    def _announce(self, event: Tree.NodeHighlighted[SpanNodeData]) -> None:
        event.stop()
        data = event.node.data
        if data is not None and data.item is not None and self.trace is not None:
            self.post_message(self.SpanHighlighted(data.item, self.trace))

    # --- rendering --------------------------------------------------------------

    def _label_width(self, node: TreeNode[SpanNodeData]) -> int:
        depth = node.data.depth if node.data is not None else 0
        return max(0, self.scrollable_content_region.width - depth * self.guide_depth - 1)

    def get_label_width(self, node: TreeNode[SpanNodeData]) -> int:
        return self._label_width(node)

    def render_label(self, node: TreeNode[SpanNodeData], base_style: Style, style: Style) -> Text:
        width = self._label_width(node)
        if node.allow_expand:
            toggle = (
                self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE,
                base_style + TOGGLE_STYLE,
            )
        else:
            toggle = ("  ", base_style)
        data = node.data
        if data is None or data.item is None:
            label = node.label.copy() if isinstance(node.label, Text) else Text(str(node.label))
            label.stylize("dim italic")
            label.stylize(style)
            return Text.assemble(toggle, label)
        item = data.item
        derived = isinstance(item, DerivedHop)
        failed = (item.source_span if derived else item).status_code == STATUS_ERROR  # type: ignore[union-attr]
        error_style = self.get_component_rich_style("span-tree--error", partial=True) if failed else ""
        icon = (
            DERIVED_ICONS.get(item.kind, "~")
            if derived
            else SPAN_TYPE_ICONS.get(item.span_type, UNKNOWN_ICON)
        )

        # Columns sized by the whole tree's width, so they line up at every depth.
        tree_width = self.scrollable_content_region.width
        bar_width = 16 if tree_width >= 90 else 10 if tree_width >= 60 else 6 if tree_width >= 34 else 0
        duration_text = duration(item.duration_ns)
        right = 1 + 5 + (1 + bar_width if bar_width else 0) if tree_width >= 26 else 0
        name_width = max(1, width - 2 - 3 - right)

        name = safe_line(item.title if derived else item.name)  # type: ignore[union-attr]
        if derived:  # the marker stays visible: the title is cut first
            if name_width > len(DERIVED_MARK) + 4:
                name.truncate(name_width - len(DERIVED_MARK), overflow="ellipsis")
            name.append(DERIVED_MARK, style="dim italic")
        if failed:
            name.stylize(error_style)
        name.truncate(name_width, overflow="ellipsis", pad=True)

        label = Text(no_wrap=True, end="")
        label.append(ERROR_MARK if failed else " ", style=error_style)
        label.append(icon, style="italic" if derived else "bold")
        label.append(" ")
        label.append_text(name)
        if right:
            label.append(f" {duration_text:>5}", style=error_style)
        if bar_width:
            start = (item.start_time_ns - self._trace_start_ns) / self._trace_span_ns
            end_ns = (
                item.end_time_ns
                if item.end_time_ns is not None
                else self._trace_start_ns + self._trace_span_ns
            )
            end = (end_ns - self._trace_start_ns) / self._trace_span_ns
            bar = waterfall(start, end, bar_width, fill="▒" if derived else "█")
            label.append(" ")
            label.append(bar, style=self.get_component_rich_style("span-tree--bar", partial=True))
        label.stylize(style)
        return Text.assemble(toggle, label)
