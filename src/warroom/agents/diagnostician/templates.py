"""Logs as data: mine templates with drain3 and compare their frequency before and after onset.

Every line is stripped of its timestamp, its ids and numbers are masked, and drain3 groups it
into a template. Per place (the workload that logs it), each template's rate after the onset is
compared with its rate before by a Poisson test. A template that is new or surging and reads
like an error is evidence for its place; one as frequent before as after is chronic noise.
The miner is fast (tens of thousands of lines per second), so thousands of lines stay cheap.
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from warroom.agents.diagnostician.index import Entity, Index
from warroom.agents.diagnostician.logs import line_time

ERROR_LINE = re.compile(r"\b(error|err|fatal|critical|crit|severe|panic|exception|traceback|"
                         r"failed|failure|refused|timed? ?out|unavailable|denied|"
                         r"could not|cannot|unable to)\b|\"level\":\s*\"?(error|fatal|[56]0)",
                         re.I)
# words one of which every line ERROR_LINE matches holds, in lower case (a cheap first test)
_ERROR_WORDS = ("err", "fatal", "crit", "severe", "panic", "exception", "traceback", "fail",
                "refused", "time", "unavailable", "denied", "could not", "cannot", "unable to",
                '"level"')


def is_error_line(line: str) -> bool:
    """Tell whether a log line reads as an error (ERROR_LINE), testing cheap substrings first."""
    lowered = line.lower()
    return any(w in lowered for w in _ERROR_WORDS) and ERROR_LINE.search(line) is not None


_STAMP = re.compile(r"^\S*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?Z?\s*"
                    r"(\d{2}:\d{2}:\d{2}(\.\d+)?\s*)?")
_MASKS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I), "<ID>"),
    (re.compile(r"\b[0-9a-f]{12,}\b", re.I), "<HEX>"),
    (re.compile(r"\b\d+(\.\d+)*\b"), "<NUM>"),
]
MAX_LINES_PER_PLACE = 5000  # the newest lines of a very chatty place are enough


@dataclass(frozen=True)
class TemplateShift:
    """One template whose frequency changed at a place after the onset."""

    entity: Entity
    template: str
    before: int
    after: int
    error: bool
    surprise: float  # Poisson z of the after-count given the before-rate
    example: str
    judged: bool = True  # the place logged anything before the onset to compare with


def _mask(line: str) -> str:
    text = _STAMP.sub("", line.strip())
    for pat, repl in _MASKS:
        text = pat.sub(repl, text)
    return text[:400]


def _miner() -> object:
    # lazy: cold import cost (python -X importtime): drain3 ~80 ms; kept off the module's import
    # path (a replayer or server loads it up front with `load_miner`)
    from drain3 import TemplateMiner  # noqa: PLC0415 - imported once per diagnosis, lazily
    from drain3.template_miner_config import TemplateMinerConfig  # noqa: PLC0415

    logging.getLogger("drain3").setLevel(logging.WARNING)
    cfg = TemplateMinerConfig()
    cfg.profiling_enabled = False
    return TemplateMiner(config=cfg)


def load_miner() -> None:
    """Load the template miner's modules now, so that no diagnosis pays for their import."""
    _miner()


_Lines = dict[Entity, list[tuple[datetime | None, str]]]


class ErrorLines(NamedTuple):
    """The error-like lines of each place, and where each place's log window starts and ends."""

    per_place: _Lines
    first_seen: dict[Entity, datetime]
    last_seen: dict[Entity, datetime]


def _error_lines(ix: Index) -> tuple[_Lines, dict[Entity, datetime], dict[Entity, datetime]]:
    """Return each place's error-like lines, and when its log window starts and ends."""
    per_place: _Lines = defaultdict(list)
    first_seen: dict[Entity, datetime] = {}
    last_seen: dict[Entity, datetime] = {}
    for stream in ix.snapshot.logs:
        if not stream.lines:
            continue
        owner = ix.stream_owner(stream)
        if not owner[1]:
            continue
        newest = stream.lines[-MAX_LINES_PER_PLACE:]
        # a stream is a window of the log: from its first line to its last, not to "now"
        start = next((t for t in map(line_time, newest[:5]) if t is not None), None)
        if start is not None:
            first_seen[owner] = min(start, first_seen.get(owner, start))
        end = next((t for t in map(line_time, reversed(newest[-5:])) if t is not None), None)
        if end is not None:
            last_seen[owner] = max(end, last_seen.get(owner, end))
        for line in newest:
            # only error-like lines can become evidence: the rest is not worth mining
            if is_error_line(line):
                per_place[owner].append((line_time(line), line))
    return per_place, first_seen, last_seen


def error_lines(ix: Index) -> ErrorLines:
    """Return each place's error-like lines and its log window (read once, used twice)."""
    return ErrorLines(*_error_lines(ix))


def chronic_places(ix: Index, onset: datetime,
                   scores: dict[Entity, tuple[float, TemplateShift]],
                   logged: ErrorLines | None = None) -> set[Entity]:
    """Return the places that logged errors before the onset at much the rate they do after.

    Their error lines are the system's usual noise, not evidence of this incident, unless one
    of their error templates is new or surging (`scores`).
    """
    per_place, first_seen, last_seen = logged or error_lines(ix)
    out: set[Entity] = set()
    for ent, lines in per_place.items():
        times = [t for t, _ in lines if t is not None]
        if ent in scores or not times:
            continue
        first = min([*times, first_seen.get(ent, times[0])])
        last = max([*times, last_seen.get(ent, times[-1])])
        before = sum(1 for t in times if t < onset)
        after = len(times) - before
        if before < 2 or first >= onset or (last - onset).total_seconds() < 60:
            continue  # the window must show the place both before and after the onset
        span_before = max(60.0, (onset - first).total_seconds())
        span_after = max(60.0, (last - onset).total_seconds())
        expected = before * span_after / span_before
        if (after - expected) / math.sqrt(expected + 1.0) < 2.0:
            out.add(ent)
    return out


def template_shifts(ix: Index, onset: datetime,
                    logged: ErrorLines | None = None) -> list[TemplateShift]:
    """Return the templates that are new or surging after `onset`, per place."""
    per_place, first_seen, last_seen = logged or error_lines(ix)
    if not per_place:
        return []
    miner = _miner()
    counts: dict[tuple[Entity, str], list[int]] = defaultdict(lambda: [0, 0])
    example: dict[tuple[Entity, str], str] = {}
    spans: dict[Entity, tuple[float, float, bool]] = {}
    for ent, lines in per_place.items():
        times = [t for t, _ in lines if t is not None]
        if not times:
            continue  # untimed lines cannot be split by onset (the analyzers read them)
        first = min([*times, first_seen.get(ent, times[0])])
        spans[ent] = (max(60.0, (onset - first).total_seconds()),
                      max(60.0, (max([*times, last_seen.get(ent, times[-1])]) - onset)
                          .total_seconds()), first < onset)
        for at, line in lines:
            if at is None:
                continue
            res = miner.add_log_message(_mask(line))  # type: ignore[attr-defined]
            key = (ent, str(res["cluster_id"]))
            counts[key][1 if at >= onset else 0] += 1
            example.setdefault(key, line.strip()[:200])
    templates = {str(c.cluster_id): c.get_template()
                 for c in miner.drain.clusters}  # type: ignore[attr-defined]
    out: list[TemplateShift] = []
    for (ent, cid), (before, after) in counts.items():
        if after == 0:
            continue
        span_before, span_after, has_before = spans[ent]
        expected = before * span_after / span_before if has_before else 0.0
        surprise = (after - expected) / math.sqrt(expected + 1.0)
        if surprise < 2.0 or after < 2 * max(1.0, expected):
            continue
        ex = example[(ent, cid)]
        out.append(TemplateShift(entity=ent, template=templates.get(cid, ex), before=before,
                                 after=after, error=True,
                                 surprise=surprise, example=ex, judged=has_before))
    return out


def template_scores(shifts: list[TemplateShift]) -> dict[Entity, tuple[float, TemplateShift]]:
    """Return, per place, the strength (0..1) of its strongest new or surging error template."""
    best: dict[Entity, tuple[float, TemplateShift]] = {}
    for sh in shifts:
        if not sh.error:
            continue
        strength = 1 - math.exp(-max(0.0, sh.surprise - 1.5) / 3)
        if sh.before == 0 and sh.judged:
            strength = max(strength, 0.5)  # a template never seen before the onset
        if not sh.judged:
            strength *= 0.5  # nothing logged before the onset: new or chronic cannot be told
        if strength > best.get(sh.entity, (0.0, sh))[0]:
            best[sh.entity] = (strength, sh)
    return best
