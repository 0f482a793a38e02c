"""Structured health reports: what a tool's JSON output says is down, partitioned or alarmed.

Cluster tools answer in JSON (a message broker's cluster status, a search cluster's health, an
etcd endpoint check, a GitOps application's health). Whatever the product, such a report says
trouble the same few ways: a liveness flag that is false (`"running": false`), a trouble flag
that is true or a trouble list that is not empty (`"network_partitions_detected": true`,
`"unreachable_nodes": [...]`, `"mem_alarm": true`), or a health status word (`"status": "red"`,
`"health": "Degraded"`). This module reads those shapes, by key and value, from any document
whose text is JSON, and hands them to the alerting place the document names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.index import Entity, Index

# a flag whose false value says a member is not serving
_ALIVE = re.compile(r"^(is_?)?(running|healthy|ready|available|alive|up|reachable|connected|"
                    r"online|live)$", re.I)
# a flag whose true value, or a list whose entries, say something is wrong
_TROUBLE = re.compile(r"partition|alarm|unreachable|split_?brain|degraded|unhealthy|"
                      r"failed|failing|down_?nodes|offline", re.I)
# a setting named after a trouble (`disk_alarm_enabled`, `failed_threshold`) is no report of one
_SETTING = re.compile(r"enabled|threshold|limit|timeout|config|policy|allow|count|max|min",
                      re.I)
_STATUS_KEY = re.compile(r"^(status|state|health|health_?status|cluster_?status)$", re.I)
_BAD_STATUS = frozenset({"down", "failed", "failing", "unhealthy", "degraded", "red",
                         "critical", "partitioned", "unreachable", "offline",
                         "crashloopbackoff"})
# what the trouble is about: members that cannot reach each other are a network fault
_NETWORK = re.compile(r"partition|unreachable|split_?brain|network|connect", re.I)
MAX_DEPTH = 32  # reports nest a few levels; anything deeper is not read further
WEIGHT = 0.45  # a tool's own report of a partition or an alarm: checkable, but second-hand
DOWN_WEIGHT = 0.3  # members down, nothing said about why


@dataclass(frozen=True)
class Fact:
    """One unhealthy statement of a report: where in the document, and what it says."""

    path: str
    text: str
    network: bool


def health_facts(value: Any, path: str = "", depth: int = 0) -> Iterator[Fact]:
    """Yield the unhealthy statements of a parsed JSON document, depth first."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, dict):
        for raw_key, item in value.items():
            key = str(raw_key)
            where = f"{path}.{key}" if path else key
            trouble = bool(_TROUBLE.search(key)) and not _SETTING.search(key)
            if isinstance(item, bool):
                if (item is False and _ALIVE.match(key)) or (item is True and trouble):
                    yield Fact(where, f"{where}={str(item).lower()}", _network(key))
            elif isinstance(item, list) and item and trouble and all(
                    isinstance(v, str | int | float) for v in item):
                shown = ", ".join(str(v) for v in item[:3])
                yield Fact(where, f"{where}=[{shown}]", _network(key))
            elif isinstance(item, str) and _STATUS_KEY.match(key) and \
                    item.strip().lower() in _BAD_STATUS:
                yield Fact(where, f"{where}={item}", _network(item))
            else:
                yield from health_facts(item, where, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from health_facts(item, f"{path}[{i}]", depth + 1)


def _network(word: str) -> bool:
    return bool(_NETWORK.search(word))


def _parsed(text: str) -> Any:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):  # not JSON, or nested past what the parser takes
        return None


def health_report_findings(ix: Index, alerts: list[Entity]) -> list[Finding]:
    """Turn the unhealthy statements of JSON documents into findings on the place they name.

    A report counts for an alerting place whose name appears in it as a word; a report that
    names none of them says nothing about this incident.
    """
    out: list[Finding] = []
    for doc in ix.snapshot.documents:
        parsed = _parsed(doc.text)
        if parsed is None:
            continue
        facts = list(health_facts(parsed))
        if not facts:
            continue
        text = f"{doc.title}\n{doc.text}"
        # the place's own name as a word, or a member of it (`name-0`, a StatefulSet's ordinal)
        named = [a for a in alerts if a[1] and re.search(
            rf"(?<![\w-]){re.escape(a[1])}(-\d+)?(?![\w-])", text, re.I)]
        if not named:
            continue
        network = [f for f in facts if f.network]
        chosen = network or facts
        said = "; ".join(f.text for f in chosen[:3])
        more = f" (+{len(chosen) - 3} more)" if len(chosen) > 3 else ""
        where = f"document {doc.source or '?'} '{doc.title[:60]}'"
        fault = "network_latency" if network else "application_error"
        weight = WEIGHT if network or any(_TROUBLE.search(f.path) for f in facts) \
            else DOWN_WEIGHT
        for ent in named:
            out.append(Finding(ent[0], ent[1], fault, weight,
                               f"{where} reports {said}{more}", source="documents"))
    return out
