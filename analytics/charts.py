"""Charts drawn on the server as SVG (SPEC 14: no CDN). Why our own: the pages are server-rendered, the
Content-Security-Policy refuses inline scripts and styles, and the charts needed are few and plain (lines with the
previous period beside, bars, a heat map, sparklines); a chart library would mean a JavaScript bundle, a build step
and data shipped as JSON for something a hundred lines of SVG do, readable without JavaScript and in screenshots.

Each function returns safe markup; colours come from classes styled in static/analytics/analytics.css (no style
attributes: the policy refuses them), sizes from the viewBox. Values are numbers or None (a gap); labels are
already formatted by the caller, and axis values by `fmt` (analytics.formatting)."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .formatting import format_number

WIDTH, HEIGHT = 560, 240
WIDE = 1000  # a chart across a whole card of the page (64rem)
LEFT, RIGHT, TOP, BOTTOM = 86, 16, 14, 34
MAX_X_LABELS = 8


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | int | None]
    kind: str = "current"  # a CSS hook: current, previous, or s0..s5 for stacked bars


def nice_top(value: float) -> tuple[float, float]:
    """The axis top (>= value) and tick step: 1, 2, 2.5 or 5 times a power of ten, about four ticks."""
    value = float(value)
    if value <= 0:
        return 1.0, 0.25
    raw = value / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return step * math.ceil(value / step - 1e-9), step


def _x_label_indices(n: int, width: int) -> list[int]:
    most = MAX_X_LABELS * width // WIDTH
    if n <= most:
        return list(range(n))
    every = math.ceil(n / most)
    return list(range(0, n, every))


def _svg(body: list[str], label: str, width=WIDTH, height=HEIGHT, css="chart", natural=False) -> SafeString:
    size = f' width="{width}" height="{height}"' if natural else ""  # natural: drawn at its own size, not scaled
    return mark_safe(  # noqa: S308 - every text part below is escaped
        f'<svg class="{css}" viewBox="0 0 {width} {height}"{size} role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def _axes(top: float, step: float, fmt: Callable, labels: Sequence[str], x_of: Callable, width: int) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    ticks = round(top / step)
    for i in range(ticks + 1):
        y = TOP + plot_h - plot_h * i / ticks
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis y" x="{LEFT - 6}" y="{y + 4:.1f}">{escape(fmt(step * i))}</text>')
    for i in _x_label_indices(len(labels), width):
        parts.append(f'<text class="axis x" x="{x_of(i):.1f}" y="{HEIGHT - 6}">{escape(labels[i])}</text>')
    return parts


def line_chart(
    *, labels: Sequence[str], series: Sequence[Series], label: str, fmt: Callable = format_number, width: int = WIDTH
):
    """Lines over shared x labels: the current period strong, the previous one light (class `previous`). A chart
    across the page's width takes a larger `width` (WIDE), so its text keeps the size of the others'."""
    n = len(labels)
    values = [v for s in series for v in s.values if v is not None]
    top, step = nice_top(max(values, default=0))
    plot_w, plot_h = width - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(i):
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y_of(v):
        return TOP + plot_h - plot_h * float(v) / top

    body = _axes(top, step, fmt, labels, x_of, width)
    for s in sorted(series, key=lambda s: s.kind != "previous"):  # the previous period underneath
        segment: list[str] = []
        segments = [segment]
        for i, v in enumerate(s.values[:n]):
            if v is None:
                segment = []
                segments.append(segment)
            else:
                segment.append(f"{x_of(i):.1f},{y_of(v):.1f}")
        for points in segments:
            if len(points) > 1:
                body.append(f'<polyline class="line {s.kind}" points="{" ".join(points)}"/>')
            elif points:
                x, y = points[0].split(",")
                body.append(f'<circle class="dot {s.kind}" cx="{x}" cy="{y}" r="3"/>')
        if n <= 62:  # a tooltip per point, where points are few enough to hover
            for i, v in enumerate(s.values[:n]):
                if v is not None:
                    tip = f"{s.name} · {labels[i]}: {fmt(v)}"
                    body.append(
                        f'<circle class="hit {s.kind}" cx="{x_of(i):.1f}" cy="{y_of(v):.1f}" r="4">'
                        f"<title>{escape(tip)}</title></circle>"
                    )
    return _svg(body, label, width)


def bar_chart(
    *, labels: Sequence[str], series: Sequence[Series], label: str, fmt: Callable = format_number, width: int = WIDTH
):
    """Bars per label; several series are stacked (bottom first). Totals are written above when bars are few."""
    n = len(labels)
    totals = [sum(float(s.values[i] or 0) for s in series) for i in range(n)]
    top, step = nice_top(max(totals, default=0))
    plot_w, plot_h = width - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(n, 1)
    bar_w = max(min(slot * 0.7, 48), 1)

    def x_of(i):
        return LEFT + slot * i + slot / 2

    body = _axes(top, step, fmt, labels, x_of, width)
    for i in range(n):
        base = 0.0
        for s in series:
            v = float(s.values[i] or 0)
            if v <= 0:
                continue
            h = plot_h * v / top
            y = TOP + plot_h - plot_h * base / top - h
            tip = f"{s.name} · {labels[i]}: {fmt(s.values[i])}"
            body.append(
                f'<rect class="bar {s.kind}" x="{x_of(i) - bar_w / 2:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}"><title>{escape(tip)}</title></rect>'
            )
            base += v
        if n <= 12 and totals[i]:
            y = TOP + plot_h - plot_h * totals[i] / top - 4
            body.append(f'<text class="value" x="{x_of(i):.1f}" y="{y:.1f}">{escape(fmt(totals[i]))}</text>')
    return _svg(body, label, width)


def heat_map(
    *,
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float | None]],
    label: str,
    fmt: Callable = format_number,
    cell: int = 44,
):
    """A grid: the darker a cell, the larger its value against the largest; empty cells (None) left blank. The
    value is written in each cell and given as its tooltip."""
    head_w, head_h = 88, 22
    width, height = head_w + cell * len(columns), head_h + cell * len(rows)
    biggest = max((float(v) for row in values for v in row if v is not None), default=0) or 1
    body = []
    for j, name in enumerate(columns):
        body.append(f'<text class="axis col" x="{head_w + cell * j + cell / 2}" y="15">{escape(name)}</text>')
    for i, name in enumerate(rows):
        y = head_h + cell * i
        body.append(f'<text class="axis row" x="{head_w - 6}" y="{y + cell / 2 + 4}">{escape(name)}</text>')
        for j, v in enumerate(values[i]):
            if v is None:
                continue
            x = head_w + cell * j
            strength = 0.08 + 0.92 * float(v) / biggest
            dark = " dark" if strength > 0.55 else ""
            body.append(
                f'<rect class="cell" x="{x + 1}" y="{y + 1}" width="{cell - 2}" height="{cell - 2}" '
                f'fill-opacity="{strength:.2f}"><title>{escape(f"{name} · {columns[j]}: {fmt(v)}")}</title></rect>'
                f'<text class="cell-value{dark}" x="{x + cell / 2}" y="{y + cell / 2 + 4}">{escape(fmt(v))}</text>'
            )
    return _svg(body, label, width, height, css="chart heat", natural=True)


def sparkline(*, values: Sequence[float | None], previous: Sequence[float | None] = (), label: str):
    """A small line without axes: the period, and the previous one lighter behind it."""
    width, height, pad = 160, 40, 3
    numbers = [float(v) for v in (*values, *previous) if v is not None]
    top = max(numbers, default=0) or 1
    body = []
    for kind, line in (("previous", previous), ("current", values)):
        n = len(line)
        step = (width - 2 * pad) / max(n - 1, 1)
        points = [
            f"{pad + step * i:.1f},{height - pad - (height - 2 * pad) * float(v) / top:.1f}"
            for i, v in enumerate(line)
            if v is not None
        ]
        if len(points) > 1:
            body.append(f'<polyline class="line {kind}" points="{" ".join(points)}"/>')
    return _svg(body, label, width, height, css="spark")
