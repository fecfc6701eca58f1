"""What tracetui needs of Textual that Textual does not offer publicly, in one place, with why.

- `TOGGLE_STYLE`: Textual's `Tree` opens or closes a node when the cell clicked carries the
  meta `{"toggle": True}` (its own `TOGGLE_STYLE`, defined in the private `textual.widgets._tree`).
  The span tree draws its own labels (`SpanTree.render_label`), so its toggle arrow must carry
  the same meta for a click on it to fold the node. Defined here rather than imported from the
  private module; if a Textual release renames the meta, clicking the arrow stops folding and
  tests/test_span_widgets.py says so.
"""

from __future__ import annotations

from rich.style import Style

TOGGLE_STYLE = Style.from_meta({"toggle": True})
