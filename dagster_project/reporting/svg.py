"""Inline SVG charts (pure functions returning markup): a donut with legend, horizontal bars.

No JavaScript, no external font or stylesheet: the SVG is embedded in the HTML report and prints
as vectors in the PDF. Every chart has a <title> and <desc> for screen readers, and the numbers
are also given as text (legend, bar values) so the chart never is the only carrier of a figure.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

FONT = "system-ui, 'DejaVu Sans', 'Liberation Sans', Arial, sans-serif"

# Colour-blind-friendly palette (Okabe-Ito-like, darkened for white text on it).
PALETTE = (
    "#1f5f99",  # dark blue
    "#d55e00",  # vermilion
    "#2a8a6a",  # bluish green
    "#b8860b",  # dark goldenrod
    "#7b4f9d",  # purple
    "#0087b3",  # sky blue (dark)
    "#b04a7a",  # reddish purple
    "#5a6b2a",  # olive
    "#8c564b",  # brown
)


@dataclass(frozen=True)
class Segment:
    label: str
    value: float
    color: str
    detail: str = ""  # second legend line, e.g. "6,5 M€ · 40,8 %"
    inner: str = ""  # short text drawn on the ring (e.g. "41 %"), empty for none


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as printed at the end of the bar
    color: str = PALETTE[0]


def _lines(text: str, width: int, max_lines: int = 3) -> list[str]:
    lines = textwrap.wrap(text, width=width, break_long_words=False) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1].rstrip(" ,;") + "…"
    return lines


def _text(x: float, y: float, lines: Sequence[str], size: int = 13, anchor: str = "start",
          weight: str = "normal", fill: str = "#1a1a1a", line_height: float = 1.2) -> str:
    if len(lines) == 1:
        return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
                f'font-weight="{weight}" fill="{fill}">{escape(lines[0])}</text>')
    spans = "".join(
        f'<tspan x="{x:.1f}" dy="{0 if i == 0 else size * line_height:.1f}">{escape(t)}</tspan>'
        for i, t in enumerate(lines)
    )
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{spans}</text>')


def _open(width: int, height: int, title: str, desc: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" style="max-width:{width}px" font-family="{escape(FONT)}">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>"
    )


def _arc(cx: float, cy: float, r_out: float, r_in: float, a0: float, a1: float) -> str:
    """Path of a ring sector from angle a0 to a1 (radians, clockwise from 12 o'clock)."""
    def pt(r, a):
        return cx + r * math.sin(a), cy - r * math.cos(a)

    large = 1 if a1 - a0 > math.pi else 0
    x0, y0 = pt(r_out, a0)
    x1, y1 = pt(r_out, a1)
    x2, y2 = pt(r_in, a1)
    x3, y3 = pt(r_in, a0)
    return (f"M{x0:.2f},{y0:.2f} A{r_out},{r_out} 0 {large} 1 {x1:.2f},{y1:.2f} "
            f"L{x2:.2f},{y2:.2f} A{r_in},{r_in} 0 {large} 0 {x3:.2f},{y3:.2f} Z")


def donut(segments: Sequence[Segment], title: str, center: Sequence[str] = (),
          legend_width: int = 330) -> str:
    """A donut chart with its legend on the right (label, then ``detail`` on a second line)."""
    r_out, r_in = 120.0, 72.0
    cx, cy = 140.0, 140.0
    width = int(2 * cx + 20 + legend_width)
    legend_rows = []
    y = 18.0
    for s in segments:
        label_lines = _lines(s.label, 34, 2)
        legend_rows.append((s, y, label_lines))
        y += 16 * len(label_lines) + (16 if s.detail else 0) + 10
    height = int(max(2 * cy, y + 4))
    total = sum(max(s.value, 0) for s in segments)
    parts = [_open(width, height, title, "; ".join(
        f"{s.label} : {s.detail}" if s.detail else s.label for s in segments))]
    a = 0.0
    for s in segments:
        if total <= 0 or s.value <= 0:
            continue
        span = 2 * math.pi * s.value / total
        if span >= 2 * math.pi - 1e-9:  # a single full ring: two halves
            parts.append(f'<path d="{_arc(cx, cy, r_out, r_in, 0, math.pi)}" fill="{s.color}"/>')
            parts.append(
                f'<path d="{_arc(cx, cy, r_out, r_in, math.pi, 2 * math.pi)}" fill="{s.color}"/>'
            )
        else:
            parts.append(
                f'<path d="{_arc(cx, cy, r_out, r_in, a, a + span)}" fill="{s.color}" '
                f'stroke="#fff" stroke-width="1.5"><title>{escape(s.label)} : '
                f"{escape(s.detail)}</title></path>"
            )
        if s.inner and span > 0.22:
            mid = a + span / 2
            rm = (r_out + r_in) / 2
            parts.append(_text(cx + rm * math.sin(mid), cy - rm * math.cos(mid) + 4, [s.inner],
                               size=12, anchor="middle", weight="bold", fill="#fff"))
        a += span
    if center:
        y0 = cy - (len(center) - 1) * 10 + 5
        for i, line in enumerate(center):
            parts.append(_text(cx, y0 + 20 * i, [line], size=16 if i == 0 else 12,
                               anchor="middle", weight="bold" if i == 0 else "normal"))
    lx = 2 * cx + 20
    for s, y, label_lines in legend_rows:
        parts.append(f'<rect x="{lx:.1f}" y="{y - 11:.1f}" width="14" height="14" rx="2" '
                     f'fill="{s.color}"/>')
        parts.append(_text(lx + 22, y, label_lines, size=13, weight="bold", line_height=1.23))
        if s.detail:
            parts.append(_text(lx + 22, y + 16 * len(label_lines), [s.detail], size=13,
                               fill="#333"))
    parts.append("</svg>")
    return "".join(parts)


def bars(items: Sequence[Bar], title: str, label_width: int = 320, bar_width: int = 330) -> str:
    """Horizontal bars, one per item, in the given order, value printed after the bar."""
    row_h = 48
    width = label_width + bar_width + 90
    height = row_h * len(items) + 10
    vmax = max((b.value for b in items), default=0) or 1
    parts = [_open(width, height, title, "; ".join(f"{b.label} : {b.text}" for b in items))]
    for i, b in enumerate(items):
        y = 5 + i * row_h
        lines = _lines(b.label, 44, 3)
        ty = y + row_h / 2 + 4 - (len(lines) - 1) * 7.5
        parts.append(_text(label_width - 10, ty, lines, size=12.5, anchor="end", line_height=1.2))
        w = max(2.0, bar_width * b.value / vmax) if b.value > 0 else 0
        parts.append(f'<rect x="{label_width}" y="{y + 10}" width="{w:.1f}" height="{row_h - 20}" '
                     f'rx="3" fill="{b.color}"><title>{escape(b.label)} : {escape(b.text)}</title>'
                     "</rect>")
        parts.append(_text(label_width + w + 8, y + row_h / 2 + 5, [b.text], size=13,
                           weight="bold"))
    parts.append("</svg>")
    return "".join(parts)
