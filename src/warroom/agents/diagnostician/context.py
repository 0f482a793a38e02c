"""Context beyond telemetry: documents (status pages, infrastructure events, database activity
dumps) and similar past incidents. Both are read as text and matched, never followed.
"""

from __future__ import annotations

import re

from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.index import Entity, Index

_OUTAGE = re.compile(r"outage|degraded|elevated (error|latenc)|investigating|partial|"
                     r"major incident|service disruption|unavailable", re.I)
_HOST_DOWN = re.compile(r"unreachable|lost (network )?connectivity|powered off|down\b|"
                        r"hardware failure|kernel panic|not responding|host failure", re.I)
_DB_BUSY = re.compile(r"max_connections|too many clients|connections? in use|waiting for|"
                      r"\bLock\b|long[- ]running", re.I)
# a line that only states the setting (`max_connections: 1802`) reports no use of it
_SETTING_ONLY = re.compile(r"^\s*max_connections\s*[:=]\s*\d+\s*$", re.I)
# a lock wait class with its share of the load (`Lock:relation=0.2`, average active sessions)
_LOCK_SHARE = re.compile(r"\bLock:[\w-]+\s*=\s*(\d+(?:\.\d+)?)")
LOCK_BUSY = 1.0  # a lock wait class holding one session or more on average is contention
# the Kubernetes API's NotFound error: a manifest or a pod references an object that is not there
_API_NOT_FOUND = re.compile(r"\b(namespaces?|configmaps?|secrets?|serviceaccounts?|"
                            r"persistentvolumeclaims?|storageclass(?:es)?(?:\.[\w.]+)?|"
                            r"priorityclass(?:es)?(?:\.[\w.]+)?)\s+\\?\"[\w.-]+\\?\" not found",
                            re.I)
_HOSTNAME = re.compile(r"\b([a-z0-9-]+(?:\.[a-z0-9-]+)+\.[a-z]{2,})\b", re.I)


def document_findings(ix: Index, alerts: list[Entity] | None = None) -> list[Finding]:
    """Read documents for outages, failing nodes, busy databases and missing objects."""
    out: list[Finding] = []
    named: set[Entity] = set()
    for doc in ix.snapshot.documents:
        missing = _API_NOT_FOUND.search(doc.text)
        if not missing:
            continue
        for ent in alerts or []:
            if ent[1] and ent not in named and ent[1] in f"{doc.title}\n{doc.text}":
                named.add(ent)
                out.append(Finding(ent[0], ent[1], "config_error", 0.4,
                                   f"document '{doc.title[:60]}': {missing.group(0)[:120]}",
                                   source="documents"))
                break
    externals = {b for _, b in ix.snapshot.topology if "." in b}
    for doc in ix.snapshot.documents:
        text = f"{doc.title}\n{doc.text}"
        where = f"document {doc.source or '?'} '{doc.title[:60]}'"
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")[:160]
        if _OUTAGE.search(text):
            for host in sorted({h.lower() for h in _HOSTNAME.findall(text)} & externals):
                out.append(Finding("", host, "external_dependency", 0.35,
                                   f"{where}: {first}", source="documents"))
        if _HOST_DOWN.search(text):
            for node in sorted(n for n in ix.node_names if n and n in text):
                out.append(Finding("", node, "node_failure", 0.35, f"{where}: {first}",
                                   source="documents"))
        if _db_busy(text):
            for name in sorted(n for n in ix.db_services if re.search(
                    rf"\b{re.escape(n)}\b", text)):
                ns = ix.namespace_of(name) or ""
                out.append(Finding(ns, name, "database_saturation", 0.3, f"{where}: {first}",
                                   source="documents"))
    return out


def _db_busy(text: str) -> bool:
    """Tell whether a document reports a database short of connections or stuck on locks.

    Read line by line: a line that only states `max_connections` is a setting, and a line whose
    every lock mention is a wait class holding less than one session on average is the usual
    background of a busy database, not contention.
    """
    for line in text.splitlines():
        if not _DB_BUSY.search(line) or _SETTING_ONLY.match(line):
            continue
        shares = [float(v) for v in _LOCK_SHARE.findall(line)]
        rest = _LOCK_SHARE.sub("", line)
        if shares and max(shares) < LOCK_BUSY and not _DB_BUSY.search(rest):
            continue
        return True
    return False


def history_findings(ix: Index) -> list[Finding]:
    """Turn similar past incidents into a weak prior for the fault they turned out to be."""
    out: list[Finding] = []
    for past in ix.snapshot.similar:
        if not past.service or not past.fault or past.fault == "none":
            continue
        if past.similarity < 0.5 or past.outcome in ("failed",):
            continue
        out.append(Finding(past.namespace, past.service, past.fault,
                           round(0.2 * min(1.0, past.similarity), 3),
                           f"similar past incident {past.incident_id} (similarity "
                           f"{past.similarity:.2f}): {past.fault} on {past.service}, action "
                           f"{past.action or '?'}, outcome {past.outcome or 'unknown'}",
                           generic=True, source="history"))
    return out
