"""Charts drawn on the server as SVG, with a title and a description for screen readers.

Hand-written (about a hundred lines) rather than a chart library: three simple charts, no
JavaScript (the content security policy allows none inline), and every label passes through
the desk's translations and Babel's number formats. Each chart has a data table beside it in
the page (see the templates), the text alternative for people who cannot see the drawing.
Colours come only from presentation attributes, which the CSP allows (inline style does not).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

_ids = itertools.count(1)
INK, GRID, BAR, WARN, MUTED = "#1b1b1b", "#d0d0d0", "#2f6f9f", "#b3261e", "#5f5f5f"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as people read it


def _frame(width: int, height: int, title: str, desc: str, body: list[str]) -> Markup:
    n = next(_ids)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} '
            f'{height}" role="img" aria-labelledby="chart{n}-t chart{n}-d" '
            f'direction="ltr"><title id="chart{n}-t">{escape(title)}</title>'
            f'<desc id="chart{n}-d">{escape(desc)}</desc>')
    return Markup(head + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 12,
          fill: str = INK) -> str:
    # First-strong isolation: an Arabic date or label keeps its own order inside the
    # left-to-right drawing.
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{fill}">\u2068{escape(text)}\u2069</text>')


def bars(items: Sequence[Bar], title: str, desc: str) -> Markup:
    """Horizontal bars, one a row, labelled with their values."""
    width, row, left = 480, 28, 150
    height = row * max(len(items), 1) + 10
    top = max((i.value for i in items), default=0) or 1
    body = []
    for index, item in enumerate(items):
        y = 5 + index * row
        length = (width - left - 60) * item.value / top
        body.append(_text(left - 8, y + 18, item.label, "end"))
        body.append(f'<rect x="{left}" y="{y + 4}" width="{length:.1f}" height="{row - 10}" '
                    f'fill="{BAR}"/>')
        body.append(_text(left + length + 6, y + 18, item.text))
    return _frame(width, height, title, desc, body)


def line(points: Sequence[tuple[str, float]], low: float, high: float, title: str,
         desc: str, y_labels: Sequence[tuple[float, str]]) -> Markup:
    """Values over time (the x labels are dates, in order), joined by a line."""
    width, height, left, right, top, bottom = 520, 220, 40, 15, 15, 40
    plot_w, plot_h = width - left - right, height - top - bottom

    def y_of(value: float) -> float:
        return top + plot_h * (high - value) / ((high - low) or 1)

    body = []
    for value, label in y_labels:
        y = y_of(value)
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="{GRID}"/>')
        body.append(_text(left - 6, y + 4, label, "end", 11, MUTED))
    step = plot_w / max(len(points) - 1, 1)
    xy = [(left + (step * i if len(points) > 1 else plot_w / 2), y_of(v))
          for i, (_, v) in enumerate(points)]
    if len(xy) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        body.append(f'<polyline points="{path}" fill="none" stroke="{BAR}" stroke-width="2"/>')
    every = max(1, len(points) // 6)
    for index, ((label, _value), (x, y)) in enumerate(zip(points, xy, strict=True)):
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{BAR}"/>')
        if index % every == 0 or index == len(points) - 1:
            body.append(_text(x, height - bottom + 18, label, "middle", 11, MUTED))
    return _frame(width, height, title, desc, body)


def against_limit(groups: Sequence[tuple[str, float | None, float | None]], title: str,
                  desc: str, limit_label: str, scale_labels: Sequence[tuple[float, str]]
                  ) -> Markup:
    """Per group two bars (typical, worst) as shares of a limit, with the limit drawn at 1."""
    width, height, left, right, top, bottom = 520, 220, 48, 10, 15, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    high = max([1.25, *(w for _, _, w in groups if w is not None)])
    high = min(high, 3.0)  # beyond three times the deadline the bar is cut (the table says)

    def y_of(share: float) -> float:
        return top + plot_h * (1 - min(share, high) / high)

    body = []
    for share, label in scale_labels:
        if share <= high:
            body.append(_text(left - 6, y_of(share) + 4, label, "end", 11, MUTED))
            body.append(f'<line x1="{left}" x2="{width - right}" y1="{y_of(share):.1f}" '
                        f'y2="{y_of(share):.1f}" stroke="{GRID}"/>')
    slot = plot_w / max(len(groups), 1)
    for index, (label, typical, worst) in enumerate(groups):
        x = left + index * slot
        for offset, value, colour in ((0.15, typical, BAR), (0.5, worst, MUTED)):
            if value is not None:
                y = y_of(value)
                body.append(f'<rect x="{x + slot * offset:.1f}" y="{y:.1f}" '
                            f'width="{slot * 0.33:.1f}" height="{top + plot_h - y:.1f}" '
                            f'fill="{colour}"/>')
        body.append(_text(x + slot / 2, height - bottom + 18, label, "middle", 11, MUTED))
    limit_y = y_of(1.0)
    body.append(f'<line x1="{left}" x2="{width - right}" y1="{limit_y:.1f}" '
                f'y2="{limit_y:.1f}" stroke="{WARN}" stroke-width="2" stroke-dasharray="6 4"/>')
    body.append(_text(width - right, limit_y - 5, limit_label, "end", 11, WARN))
    return _frame(width, height, title, desc, body)
