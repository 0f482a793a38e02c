"""Server-drawn SVG charts: labels are escaped, bars are proportional, empty data says so."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from warroom.web.charts import Bar, Series, bars, lines

HOSTILE = '<script>alert("x")</script>&'


def test_bars_escape_labels_and_scale_to_the_longest() -> None:
    svg = str(bars("Services", [Bar(HOSTILE, 10), Bar("cart", 5)]))
    ET.fromstring(svg)  # well-formed: nothing unescaped broke out
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    widths = [float(w) for w in re.findall(r'<rect class="bar" x="\d+" y="[\d.]+" width="([\d.]+)"',
                                           svg)]
    assert len(widths) == 2 and abs(widths[0] / widths[1] - 2.0) < 0.01


def test_lines_skip_gaps_and_label_every_series() -> None:
    svg = str(lines("MTTR", ["2026-12-01", "2026-12-02", "2026-12-03"],
                    [Series("P50", [10.0, None, 30.0], "p50"), Series("P95", [20, 25, 40], "p95")]))
    root = ET.fromstring(svg)
    circles = [e for e in root.iter() if e.tag.endswith("circle")]
    assert len(circles) == 5  # the gap draws no point
    assert "P50" in svg and "P95" in svg and "12-02" in svg


def test_no_data_says_so() -> None:
    assert "No data in this range" in str(bars("Outcomes", []))
    assert "No data in this range" in str(lines("MTTR", [], [Series("P50", [], "p50")]))
