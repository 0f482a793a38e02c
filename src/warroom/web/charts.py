"""Charts drawn on the server as inline SVG: no script, no CDN, readable with styles off.

Colours come from classes in `app.css` (the page's CSP allows no inline style); every chart
has a title and a text description for screen readers, and the page shows the same numbers
in a table next to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from warroom.i18n.service import _


def _no_data() -> str:
    """Say that a chart has nothing to draw, in the active language."""
    return _("No data in this range")


WIDTH = 640
ROW = 26
LABEL_W = 190
VALUE_W = 90


@dataclass(frozen=True)
class Bar:
    """One labelled value of a bar chart."""

    label: str
    value: float
    tone: str = "bar"


def _svg(title: str, desc: str, height: int, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'preserveAspectRatio="xMinYMin meet">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>{''.join(body)}</svg>")


def bars(title: str, items: Sequence[Bar], *, text: Callable[[float], str] = str) -> Markup:
    """Draw horizontal bars, longest first as given, each with its label and value."""
    if not items:
        return _svg(title, _("no data"), ROW * 2, [
            f'<text class="chart-empty" x="{WIDTH / 2}" y="{ROW}" text-anchor="middle">'
            f"{escape(_no_data())}</text>"])
    top = max(i.value for i in items) or 1.0
    span = WIDTH - LABEL_W - VALUE_W
    body: list[str] = []
    for n, item in enumerate(items):
        y = n * ROW + 4
        width = max(item.value / top * span, 1.5 if item.value else 0)
        label = item.label if len(item.label) <= 28 else item.label[:27] + "…"
        body.append(
            f'<text class="chart-label" x="{LABEL_W - 8}" y="{y + ROW / 2 + 1}" '
            f'text-anchor="end" dominant-baseline="middle">{escape(label)}</text>'
            f'<rect class="{escape(item.tone)}" x="{LABEL_W}" y="{y + 3}" width="{width:.1f}" '
            f'height="{ROW - 8}" rx="3"><title>{escape(item.label)}: '
            f"{escape(text(item.value))}</title></rect>"
            f'<text class="chart-value" x="{LABEL_W + width + 6:.1f}" y="{y + ROW / 2 + 1}" '
            f'dominant-baseline="middle">{escape(text(item.value))}</text>')
    desc = "; ".join(f"{i.label}: {text(i.value)}" for i in items)
    return _svg(title, desc, len(items) * ROW + 8, body)


@dataclass(frozen=True)
class Series:
    """One line of a line chart: a value (or a gap) per x position."""

    name: str
    values: Sequence[float | None]
    tone: str


def lines(title: str, xs: Sequence[str], series: Sequence[Series], *,
          text: Callable[[float], str] = str) -> Markup:
    """Draw lines over labelled x positions (days), with a zero-based y axis and a legend."""
    height, left, right, top, bottom = 240, 70, 16, 28, 34
    values = [v for s in series for v in s.values if v is not None]
    if not xs or not values:
        return _svg(title, _("no data"), ROW * 2, [
            f'<text class="chart-empty" x="{WIDTH / 2}" y="{ROW}" text-anchor="middle">'
            f"{escape(_no_data())}</text>"])
    high = max(values) or 1.0
    plot_w, plot_h = WIDTH - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (plot_w / 2 if len(xs) == 1 else i * plot_w / (len(xs) - 1))

    def y(v: float) -> float:
        return top + plot_h - v / high * plot_h

    body = []
    for frac in (0.0, 0.5, 1.0):
        gy = y(high * frac)
        body.append(f'<line class="grid" x1="{left}" x2="{WIDTH - right}" y1="{gy:.1f}" '
                    f'y2="{gy:.1f}"/><text class="chart-axis" x="{left - 6}" y="{gy:.1f}" '
                    f'text-anchor="end" dominant-baseline="middle">{escape(text(high * frac))}'
                    "</text>")
    step = max(1, len(xs) // 6)
    for i in range(0, len(xs), step):
        body.append(f'<text class="chart-axis" x="{x(i):.1f}" y="{height - bottom + 16}" '
                    f'text-anchor="middle">{escape(xs[i][5:])}</text>')
    for k, s in enumerate(series):
        run: list[str] = []
        for i, v in enumerate(s.values):
            if v is None:
                continue
            run.append(f"{x(i):.1f},{y(v):.1f}")
            body.append(f'<circle class="{escape(s.tone)}" cx="{x(i):.1f}" cy="{y(v):.1f}" '
                        f'r="3.5"><title>{escape(s.name)} {escape(xs[i])}: '
                        f"{escape(text(v))}</title></circle>")
        if len(run) > 1:
            body.append(f'<polyline class="{escape(s.tone)} line" points="{" ".join(run)}"/>')
        lx = left + k * 150
        body.append(f'<rect class="{escape(s.tone)}" x="{lx}" y="6" width="14" height="10" '
                    f'rx="2"/><text class="chart-label" x="{lx + 20}" y="15">'
                    f"{escape(s.name)}</text>")
    desc = "; ".join(
        f"{s.name}: " + ", ".join(f"{d} {text(v)}" for d, v in zip(xs, s.values, strict=True)
                                   if v is not None) for s in series)
    return _svg(title, desc, height, body)
