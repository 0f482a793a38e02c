"""Log evidence: classify lines (exceptions, timeouts, refused, pool exhaustion, DNS, TLS, OOM,
disk, config) and attribute each either to the pod's own workload or to the dependency it names.

Lines are matched as data: nothing in them is ever executed or followed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.index import Entity, Index


def _on_lowered(pattern: str) -> re.Pattern[str]:
    """Compile a case-blind pattern to search a line already lowered: the same matches, some
    five times faster on long lines (a case-blind search tries every position the slow way).
    Escapes (`\\S`, `\\W`, `\\B`) keep their case; every other letter is lowered."""
    return re.compile(re.sub(r"\\.|[A-Z]",
                             lambda m: m.group() if len(m.group()) > 1 else m.group().lower(),
                             pattern))


CATEGORIES: list[tuple[str, re.Pattern[str]]] = [
    ("dns", _on_lowered(r"NXDOMAIN|SERVFAIL|EAI_AGAIN|name resolution|no such host|server "
                        r"misbehaving|on [\d.]+:53|dns lookup failed|UnknownHostException|"
                        r"could(n't| not) resolve (host|hostname)|Name or service not known|"
                        r"ENOTFOUND")),
    ("tls", _on_lowered(r"x509|certificate (has )?expired|bad certificate|certificate verify "
                        r"failed|TLS handshake|SSLHandshake|CERT_HAS_EXPIRED")),
    ("pool", _on_lowered(r"HikariPool|Connection is not available|too many clients|remaining "
                         r"connection slots|pool (is )?exhausted|could not obtain connection|"
                         r"max_connections|QueuePool limit")),
    ("disk", _on_lowered(r"No space left on device|disk (is )?full|ENOSPC")),
    ("oom", _on_lowered(r"OutOfMemory|heap out of memory|MemoryError|cannot allocate memory|"
                        r"approaching limit|Killed process")),
    ("leak", _on_lowered(r"GC overhead|still growing|(?<!EventEmitter )memory leak|"
                         r"no eviction configured")),
    ("config", _on_lowered(r"invalid configuration|missing required|configuration validation|"
                           r"required key|failed to parse \S+|config(uration)? error|unknown "
                           r"config|environment variable \S+ (is )?(not set|missing|required)|"
                           r"env(ironment)? var(iable)? \S+ (is )?(not set|missing)|could not "
                           r"load config|ConfigException|invalid value for \S+|yaml: unmarshal|"
                           r"no such file or directory: \S+\.(ya?ml|json|conf|toml|ini)")),
    ("cpu", _on_lowered(r"WORKER TIMEOUT|event loop blocked|CPU throttl|compute_\w+")),
    ("load", _on_lowered(r"queue full|shedding load|Rejected request|too many requests|\b429\b")),
    ("network", _on_lowered(r"retransmi|reset before headers|packet loss|connection timeout")),
    ("exception", _on_lowered(r"Exception\b|Traceback|panic:|TypeError|NullPointer|Unhandled|"
                              r"segmentation fault|KeyError|AttributeError|IllegalState|"
                              r"cannot unmarshal")),
    ("timeout", _on_lowered(r"timed? ?out|deadline exceeded|Timeout")),
    ("refused", _on_lowered(r"connection refused|ECONNREFUSED|reset by peer|broken pipe|"
                            r"upstream connect error|\b50[234]\b|Service Unavailable|Bad Gateway|"
                            r"status code 5\d\d|IOException")),
]
_ERRORISH = _on_lowered(r"error|warn|fatal|critical|fail|exception|panic|refused|timeout|"
                        r"could(n't| not) resolve|not known|ENOTFOUND|"
                        r"\"level\":\s*[456]0|GC overhead|still growing|heap in use")
# words one of which every line _ERRORISH matches holds, in lower case: a substring test is some
# ten times cheaper than the case-blind regex, and most lines are chatter that holds none
_WORTH = ("error", "warn", "fatal", "critical", "fail", "exception", "panic", "refused",
          "timeout", "resolve", "not known", "enotfound", '"level"', "gc overhead",
          "still growing", "heap in use")
_DEP = [re.compile(p) for p in (
    r"call(?:ing)? to ([\w.-]+)", r"peer=\"?([\w.-]+)", r"https?://([\w.-]+)",
    r"lookup ([\w.-]+)", r"getaddrinfo \w+ ([\w.-]+)", r"upstream ([\w.-]+) returned",
    r"connect(?:ion)? to ([\w.-]+)", r"\(([\w-]+\.[\w.-]+)\)",
    r"with ([\w.-]+) failed", r"->([a-z][\w.-]+):\d+")]
_DNS_NAMES = ("coredns", "kube-dns")


@dataclass
class LogEvidence:
    """What the logs say, per workload and per (caller -> dependency) pair."""

    own: dict[Entity, dict[str, list[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    about: dict[Entity, dict[str, list[tuple[Entity, str]]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list)))


def _dependency(ix: Index, line: str, caller: Entity) -> Entity | None:
    for pat in _DEP:
        for m in pat.finditer(line):
            raw = m.group(1).strip(".").lower()
            if raw in ("http", "https", "the", "request", "post", "get"):
                continue
            if ".svc" in raw or raw.endswith(".cluster.local") or (
                    raw.count(".") >= 1 and raw.split(".")[0] in ix.service_ns
                    and raw.split(".")[1] in {ns for s in ix.service_ns.values() for ns in s}):
                raw = raw.split(".")[0]
            if raw in ix.service_ns:
                ent = ix.entity(raw, caller[0])
            elif "." in raw and not re.fullmatch(r"[\d.]+", raw) and re.search(r"[a-z]{2,}$",
                                                                              raw):
                ent = ("", raw)
            else:
                continue
            if ent != caller:
                return ent
    return None


_ERROR_LEVEL = _on_lowered(r"\b(ERROR|FATAL|CRITICAL|SEVERE|PANIC|EMERG)\b|\"level\":\s*\"?"
                           r"(error|fatal|critical|panic)|\"level\":\s*[56]0\b|level=(error|"
                           r"fatal)|\[(error|fatal|crit)\]|^panic:|Traceback|Unhandled")


def classify(line: str) -> list[str]:
    """Return the categories of one log line (empty for ordinary chatter).

    An exception logged below error level (a framework saying it handled one) is not a failure.
    """
    lowered = line.lower()
    if not any(word in lowered for word in _WORTH) or not _ERRORISH.search(lowered):
        return []
    cats = [name for name, pat in CATEGORIES if pat.search(lowered)]
    if "exception" in cats and not _ERROR_LEVEL.search(lowered):
        cats.remove("exception")
    return cats


_ISO = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})")
_EPOCH_MS = re.compile(r"\"(?:time|ts|timestamp)\":\s*(1\d{12})\b")
_SOLO = ("dns", "tls", "pool", "disk")  # a line of these kinds is about nothing else


def line_time(line: str) -> datetime | None:
    """Return the timestamp a log line starts with (ISO or epoch milliseconds), if any."""
    m = _ISO.search(line[:64])
    if m:
        try:
            return datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}").replace(tzinfo=UTC)
        except ValueError:
            return None
    m2 = _EPOCH_MS.search(line)
    return datetime.fromtimestamp(int(m2.group(1)) / 1000, tz=UTC) if m2 else None


def collect(ix: Index, since: datetime | None = None) -> LogEvidence:
    """Classify every log line; lines of a kind the pod already logged before `since`, at a
    similar rate, are chronic noise and do not count as evidence of this incident."""
    ev = LogEvidence()
    now = ix.snapshot.now
    for stream in ix.snapshot.logs:
        owner = ix.stream_owner(stream)
        tag = f"{stream.namespace}/{stream.pod}{' (previous)' if stream.previous else ''}"
        per_cat: dict[str, list[tuple[datetime | None, str, Entity | None]]] = defaultdict(list)
        first: datetime | None = None
        for line in stream.lines:
            cats = classify(line)
            if not cats:
                continue
            solo = [c for c in cats if c in _SOLO]
            cats = solo[:1] or cats
            at = line_time(line)
            if at is not None and (first is None or at < first):
                first = at
            dep = _dependency(ix, line, owner)
            for cat in cats:
                per_cat[cat].append((at, f"log {tag}: {line.strip()[:200]}", dep))
        for cat, items in per_cat.items():
            if since is not None and not stream.previous:
                before = [x for x in items if x[0] is not None and x[0] < since]
                after = [x for x in items if x[0] is None or x[0] >= since]
                if before:
                    span_before = max(60.0, (since - (first or since)).total_seconds())
                    span_after = max(60.0, (now - since).total_seconds())
                    if len(after) / span_after <= 2 * len(before) / span_before:
                        continue  # chronic: the pod said this before the incident too
                items = after
            for _, short, dep in items:
                if dep is not None and cat not in ("oom", "leak", "config", "cpu", "load"):
                    ev.about[dep][cat].append((owner, short))
                else:
                    ev.own[owner][cat].append(short)
    return ev


def dns_entity(ix: Index) -> Entity:
    """Return the cluster DNS workload (CoreDNS in kube-system unless found elsewhere)."""
    for (ns, name) in ix.workloads:
        if name in _DNS_NAMES:
            return (ns, name)
    # outside Kubernetes objects, the DNS service is whatever place its series or topology
    # name after it (a renamed or managed resolver)
    known = sorted({(ns, svc) for svc, spaces in ix.service_ns.items() for ns in spaces}
                   | {(ix.namespace_of(n) or "", n) for edge in ix.snapshot.topology
                      for n in edge})
    for ns, name in known:
        if any(name.lower().startswith(d) for d in _DNS_NAMES):
            return (ns, name)
    return ("kube-system", "coredns")


def log_findings(ix: Index, ev: LogEvidence) -> list[Finding]:
    """Turn classified log lines into findings."""
    out: list[Finding] = []

    def add(ent: Entity, fault: str, weight: float, lines: list[str], generic: bool = False,
            what: str = "", source: str = "logs") -> None:
        text = f"{lines[0]}" + (f" (+{len(lines) - 1} similar{what})" if len(lines) > 1 else "")
        out.append(Finding(ent[0], ent[1], fault, min(weight, 0.85), text, generic=generic,
                           source=source))

    dns = dns_entity(ix)
    dns_callers: set[Entity] = set()
    dns_lines: list[str] = []
    for ent, cats in ev.own.items():
        n = {c: len(v) for c, v in cats.items()}
        if ent == dns and (cats.get("timeout") or cats.get("exception") or cats.get("refused")):
            lines = cats.get("timeout") or cats.get("exception") or cats["refused"]
            add(ent, "dns_failure", 0.35, lines)
        if cats.get("dns"):
            dns_callers.add(ent)
            dns_lines += cats["dns"]
        if n.get("exception", 0) >= 2:
            add(ent, "application_error", 0.3 + min(0.2, 0.02 * n["exception"]),
                cats["exception"], generic=True)
        if cats.get("config"):
            add(ent, "config_error", 0.45, cats["config"])
        if cats.get("oom"):
            add(ent, "memory_limit_too_low", 0.2, cats["oom"])
            add(ent, "memory_leak", 0.1, cats["oom"])
        if cats.get("leak"):
            add(ent, "memory_leak", 0.35, cats["leak"])
        if cats.get("cpu"):
            add(ent, "cpu_saturation", 0.25, cats["cpu"])
        if cats.get("load"):
            add(ent, "traffic_surge", 0.2, cats["load"])
        if cats.get("network"):
            add(ent, "network_latency", 0.3, cats["network"])
        if cats.get("disk"):
            add(ent, "disk_pressure", 0.45, cats["disk"])
        if cats.get("tls") and not cats.get("dns"):
            add(ent, "certificate_expired", 0.3, cats["tls"])
        if cats.get("pool") and ix.is_database(ent):
            add(ent, "database_saturation", 0.35, cats["pool"])
        elif cats.get("pool"):
            # a client that does not name its database: the one it calls, if only one
            dbs = {ix.entity(b, ent[0]) for a, b in ix.snapshot.topology
                   if ix.entity(a, ent[0]) == ent and ix.is_database(ix.entity(b, ent[0]))}
            if len(dbs) == 1:
                add(next(iter(dbs)), "database_saturation", 0.35, cats["pool"],
                    what=f" from {ent[1]}")
    for dep, dcats in ev.about.items():
        callers = {c for lines in dcats.values() for c, _ in lines}
        spread = 0.1 * (len(callers) - 1)

        def lines_of(cat: str, dcats: dict[str, list[tuple[Entity, str]]] = dcats) -> list[str]:
            return [t for _, t in dcats.get(cat, [])]

        if dcats.get("dns"):
            dns_callers |= {c for c, _ in dcats["dns"]}
            dns_lines += lines_of("dns")
        if dcats.get("tls"):
            add(dep, "certificate_expired", 0.45 + spread, lines_of("tls"))
        if dcats.get("pool"):
            add(dep, "database_saturation", 0.45 + spread, lines_of("pool"))
        if dcats.get("disk"):
            add(dep, "disk_pressure", 0.4 + spread, lines_of("disk"))
        failing = lines_of("timeout") + lines_of("refused")
        if dep[0] != "" and failing and not (dcats.get("dns") or dcats.get("pool")):
            slow = [t for t in failing
                    if re.search(r"timed? ?out|deadline|reset|broken|IOException", t, re.I)]
            fault = "network_latency" if len(slow) * 2 > len(failing) else "application_error"
            add(dep, fault, 0.2 + spread, failing, generic=True, what=" from callers",
                source="callers")
        if dep[0] == "" and failing and not dcats.get("dns"):
            add(dep, "external_dependency", 0.45 + spread + min(0.15, 0.015 * len(failing)),
                failing, what=" from callers")
    observed = dns in ix.workloads or dns[1] in ix.service_ns
    if len(dns_callers) == 1 and not observed:
        # one workload failing to resolve, and no resolver in sight to blame: the name it asks
        # for (its own configuration) is the first suspect, the resolver only a distant second
        caller = next(iter(dns_callers))
        add(caller, "dns_failure", 0.35, dns_lines, what=" (only this workload)")
        add(dns, "dns_failure", 0.15, dns_lines, generic=True)
    elif dns_callers:
        weight = 0.3 + 0.15 * (len(dns_callers) - 1)
        add(dns, "dns_failure", weight, dns_lines, what=f" across {len(dns_callers)} workloads")
    return out


def pointers(ev: LogEvidence) -> dict[Entity, int]:
    """Count, per dependency, the failing calls its callers logged (a hint to look downstream)."""
    out: dict[Entity, int] = {}
    for dep, cats in ev.about.items():
        out[dep] = sum(len(v) for k, v in cats.items()
                       if k in ("timeout", "refused", "pool", "tls", "disk", "exception"))
    return out
