"""Context beyond telemetry: documents (status pages, infrastructure events, database activity
dumps) and similar past incidents. Both are read as text and matched, never followed.
"""

from __future__ import annotations

import re

from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.index import Index

_OUTAGE = re.compile(r"outage|degraded|elevated (error|latenc)|investigating|partial|"
                     r"major incident|service disruption|unavailable", re.I)
_HOST_DOWN = re.compile(r"unreachable|lost (network )?connectivity|powered off|down\b|"
                        r"hardware failure|kernel panic|not responding|host failure", re.I)
_DB_BUSY = re.compile(r"max_connections|too many clients|connections? in use|waiting for|"
                      r"\bLock\b|long[- ]running", re.I)
_HOSTNAME = re.compile(r"\b([a-z0-9-]+(?:\.[a-z0-9-]+)+\.[a-z]{2,})\b", re.I)


def document_findings(ix: Index) -> list[Finding]:
    """Read documents for outages of external hosts, failing nodes and busy databases."""
    out: list[Finding] = []
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
        if _DB_BUSY.search(text):
            for name in sorted(n for n in ix.db_services if re.search(
                    rf"\b{re.escape(n)}\b", text)):
                ns = ix.namespace_of(name) or ""
                out.append(Finding(ns, name, "database_saturation", 0.3, f"{where}: {first}",
                                   source="documents"))
    return out


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
