"""The sandbox's time series: recorded per tick, queried like Prometheus, exposed as text."""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Labels = tuple[tuple[str, str], ...]
LOOKBACK_S = 300.0

_SELECTOR = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*(?:\{(.*)\})?\s*$")
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|!~|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')
# `sum by (a, b) (selector)` or `sum without (a, b) (selector)`: what the metrics sensor asks
# for when the recording rules are missing
_SUM = re.compile(r"^\s*sum\s+(by|without)\s*\(([^)]*)\)\s*\((.*)\)\s*$", re.S)


class QueryError(ValueError):
    """A PromQL expression outside the supported subset (an instant vector selector, or a sum
    of one by or without labels)."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def matches(self, labels: dict[str, str]) -> bool:
        """Tell whether a label set satisfies this matcher."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found


def parse_selector(query: str) -> list[Matcher]:
    """Parse `name{label="value",...}` into matchers (the name becomes `__name__`)."""
    match = _SELECTOR.match(query)
    if not match or (match.group(1) is None and match.group(2) is None):
        raise QueryError(f"unsupported query {query!r}: only selectors name{{label=\"v\"}} work")
    matchers = [Matcher("__name__", "=", match.group(1))] if match.group(1) else []
    body = match.group(2) or ""
    position = 0
    while position < len(body.strip()):
        item = _MATCHER.match(body, position)
        if not item:
            raise QueryError(f"cannot parse label matchers in {query!r} at {body[position:]!r}")
        value = item.group(3).replace('\\"', '"').replace("\\\\", "\\")
        matchers.append(Matcher(item.group(1), item.group(2), value))
        position = item.end()
    return matchers


class SeriesStore:
    """A ring buffer of samples per series."""

    def __init__(self, keep: int = 720) -> None:
        self.keep = keep
        self._series: dict[Labels, deque[tuple[float, float]]] = {}
        self.latest = 0.0  # time of the newest sample: series without it have gone stale
        # how sample times (simulated) show outside; the live runtime maps them to wall time
        self.to_external: Callable[[float], float] = lambda when: when

    def record(self, when: float, name: str, labels: dict[str, str], value: float) -> None:
        """Append one sample."""
        key = tuple(sorted({**labels, "__name__": name}.items()))
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = deque(maxlen=self.keep)
        series.append((when, float(value)))
        self.latest = max(self.latest, when)

    def select(self, query: str) -> list[tuple[dict[str, str], deque[tuple[float, float]]]]:
        """Return the series a selector matches."""
        matchers = parse_selector(query)
        found = []
        for key, samples in self._series.items():
            labels = dict(key)
            if all(m.matches(labels) for m in matchers):
                found.append((labels, samples))
        return sorted(found, key=lambda item: sorted(item[0].items()))

    def query_range(self, query: str, start: float, end: float, step: float) -> list[dict]:
        """Answer like Prometheus `query_range`: the last sample at or before each step; a
        `sum by`/`sum without` adds those up per step and group, without the metric name."""
        summed = _SUM.match(query)
        if summed:
            return _sum(self.query_range(summed.group(3), start, end, step),
                        summed.group(1), [x.strip() for x in summed.group(2).split(",")
                                          if x.strip()])
        if step <= 0:
            raise QueryError("step must be positive")
        if (end - start) / step > 11000:
            raise QueryError("exceeded maximum resolution of 11,000 points per timeseries")
        result = []
        for labels, samples in self.select(query):
            values = []
            at = start
            points, stale_after = self._external(samples)
            index = 0
            last: tuple[float, float] | None = None
            while at <= end + 1e-9:
                while index < len(points) and points[index][0] <= at:
                    last = points[index]
                    index += 1
                if last is not None and _visible(at, last[0], stale_after):
                    values.append([_num(at), _fmt(last[1])])
                at += step
            if values:
                result.append({"metric": labels, "values": values})
        return result

    def query(self, query: str, at: float) -> list[dict]:
        """Answer like Prometheus `query` for an instant vector selector."""
        result = []
        for labels, samples in self.select(query):
            points, stale_after = self._external(samples)
            best = None
            for sample in points:
                if sample[0] <= at:
                    best = sample
            if best is not None and _visible(at, best[0], stale_after):
                result.append({"metric": labels, "value": [_num(at), _fmt(best[1])]})
        return result

    def _external(self, samples: deque[tuple[float, float]]
                  ) -> tuple[list[tuple[float, float]], float | None]:
        """Return the samples in external time, and when the series went stale (or None)."""
        points = [(self.to_external(when), value) for when, value in samples]
        stale = bool(points) and samples[-1][0] < self.latest
        return points, points[-1][0] if stale else None

    def exposition(self, at: float) -> str:
        """Render the latest sample of every live series in Prometheus text format."""
        lines: list[str] = []
        seen: set[str] = set()
        for key, samples in sorted(self._series.items()):
            if not samples or samples[-1][0] < self.latest:
                continue  # stale: the pod is gone
            labels = dict(key)
            name = labels.pop("__name__")
            if name not in seen:
                seen.add(name)
                lines.append(f"# TYPE {name} gauge")
            rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            lines.append(f"{name}{{{rendered}}} {_fmt(samples[-1][1])}")
        return "\n".join(lines) + "\n"


def _sum(result: list[dict], mode: str, labels: list[str]) -> list[dict]:
    """Add up a range result per step within groups of labels, as PromQL's `sum` does."""
    groups: dict[Labels, dict[float | int, float]] = {}
    for item in result:
        metric = {k: v for k, v in item["metric"].items() if k != "__name__"}
        kept = ({k: v for k, v in metric.items() if k in labels} if mode == "by"
                else {k: v for k, v in metric.items() if k not in labels})
        group = groups.setdefault(tuple(sorted(kept.items())), {})
        for at, value in item["values"]:
            group[at] = group.get(at, 0.0) + float(value)
    return [{"metric": dict(key), "values": [[at, _fmt(v)] for at, v in sorted(values.items())]}
            for key, values in sorted(groups.items())]


def _visible(at: float, sample_at: float, stale_after: float | None) -> bool:
    """Apply Prometheus' 5-minute lookback, cut short by a staleness marker."""
    if stale_after is not None and at > stale_after:
        return False
    return at - sample_at <= LOOKBACK_S


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 3)


def _fmt(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(round(value, 6))
