"""A counter's samples as a dashboard reads them: increases and rates, and derived series.

Shared by the exporter families (`families.py`) and the container shares (`containers.py`).
"""

from __future__ import annotations

from collections.abc import Callable

from warroom.sensors.models import Series

Points = list[tuple[float, float]]
Labels = tuple[tuple[str, str], ...]


def increases(pts: Points) -> Points:
    """Return a counter's increase over each interval of its samples (in time order), at the
    interval's end: a drop is a restart, whose new value is the increase."""
    return [(t1, v1 - v0 if v1 >= v0 else v1)
            for (t0, v0), (t1, v1) in zip(pts, pts[1:], strict=False) if t1 > t0]


def rates(pts: Points) -> Points:
    """Return a counter's per-second rate over each interval of its samples (in time order)."""
    spans = [t1 - t0 for (t0, _), (t1, _) in zip(pts, pts[1:], strict=False) if t1 > t0]
    return [(t, inc / span) for (t, inc), span in zip(increases(pts), spans, strict=True)]


def counter_increases(s: Series, points: Callable[[Series], Points]) -> dict[float, float]:
    """Return a counter series' increases by the time each interval ends."""
    return dict(increases(sorted(points(s))))


def counter_rates(s: Series, points: Callable[[Series], Points]) -> Points:
    """Return a counter series' per-second rates, in time order."""
    return rates(sorted(points(s)))


def without_labels(labels: dict[str, str], dropped: tuple[str, ...]) -> Labels:
    """Return a series' labels but its name and the `dropped` ones, sorted (a family's key)."""
    return tuple(sorted((k, v) for k, v in labels.items()
                        if k != "__name__" and k not in dropped))


def derived_series(name: str, labels: Labels, pts: Points) -> Series:
    """Return a series derived from others: its name, labels and samples."""
    return Series(metric={"__name__": name, **dict(labels)},
                  values=[(t, f"{v:.6g}") for t, v in pts])
