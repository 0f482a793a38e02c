"""Make evidence safe to store and to show a model: secrets redacted, sizes capped, and
instruction-like text in the data fenced and marked as data."""

from __future__ import annotations

import re
from typing import Any

import orjson

from warroom.sensors.models import EvidenceSnapshot

REDACTED = "[REDACTED]"
MAX_STRING = 4000  # characters per string value
MAX_LOG_LINES = 200  # per stream, the newest kept
MAX_SERIES = 2000
MAX_OBJECTS = 2000
MAX_DOCUMENT = 8000

_SECRET_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # PEM private keys, whole block
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)",
                re.S), REDACTED),
    # URLs / DSNs with a password: scheme://user:password@host
    (re.compile(r"(?P<pre>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(?=@)"),
     r"\g<pre>" + REDACTED),
    # Authorization headers
    (re.compile(r"(?i)(?P<pre>\bauthorization\s*[:=]\s*\"?(bearer|basic|token)\s+)"
                r"[A-Za-z0-9._~+/=-]+"), r"\g<pre>" + REDACTED),
    (re.compile(r"(?i)(?P<pre>\bbearer\s+)[A-Za-z0-9._~+/=-]{12,}"), r"\g<pre>" + REDACTED),
    # JSON Web Tokens
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), REDACTED),
    # AWS access key ids and secret keys
    (re.compile(r"\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b"), REDACTED),
    (re.compile(r"(?i)(?P<pre>aws_?secret_?access_?key\s*[\"']?\s*[:=]\s*[\"']?)"
                r"[A-Za-z0-9/+=]{40}"), r"\g<pre>" + REDACTED),
    # well-known token shapes: GitHub, Slack, Stripe, Google, OpenAI/Anthropic-style keys
    (re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b"), REDACTED),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"), REDACTED),
    (re.compile(r"\b[sr]k_(live|test)_[A-Za-z0-9]{16,}\b"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), REDACTED),
    (re.compile(r"\bsk-(ant-)?[A-Za-z0-9_-]{20,}\b"), REDACTED),
    # key=value / key: value where the key says it is secret
    (re.compile(r"(?i)(?P<pre>\b[\w.-]*(password|passwd|pwd|secret|token|api[_-]?key|apikey|"
                r"access[_-]?key|private[_-]?key|client[_-]?secret|credentials?)[\w.-]*"
                r"[\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED\])[^\s\"',;&}]{3,}"),
     r"\g<pre>" + REDACTED),
]

_INJECTION = re.compile(
    # the lookahead rejects most positions at once: only these letters start an alternative
    r"(?i)(?=[idfynsaerkc<])"
    r"(ignore (all |any )?(the )?(previous|prior|above|earlier) (instructions|prompts?|rules)"
    r"|disregard (all |the )?(previous|prior|above|your) |forget (all |your )?(previous )?"
    r"instructions|you are now |new instructions?:|system prompt|<\s*/?\s*(system|assistant|"
    r"instructions?)\s*>|\bas an ai\b|act as (an? )?(admin|root|system)|(approve|execute|run) "
    r"(this|the following|immediately)|do not (tell|inform) the (user|human|operator)"
    r"|kubectl (delete|drain|exec)|rm -rf|curl [^|]*\|\s*(ba)?sh)"
)
FENCE_OPEN = "«data:untrusted»"
FENCE_CLOSE = "«/data»"

# keys whose values are secret whatever they look like (Kubernetes Secret data, env values)
_SECRET_KEYS = re.compile(r"(?i)(password|passwd|secret|token|api[_-]?key|private[_-]?key|"
                          r"credentials?|\.pem$|\.key$)")


# every secret pattern above contains one of these (lower-cased); text without any is skipped
_TRIGGERS = (
    "-----begin", "authoriz", "authoris", "bearer", "eyj", "akia", "asia", "agpa",
    "aida", "aroa", "anpa", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat", "xox",
    "k_live", "k_test", "aiza", "sk-", "passw", "pwd", "secret", "token", "api_key", "api-key",
    "apikey", "access_key", "access-key", "accesskey", "private", "credential", ".pem", ".key",
)
_INJECTION_TRIGGERS = (
    "ignore", "disregard", "forget", "you are", "instruction", "prompt", "<",
    "as an ai", "act as", "approve", "execute", "run ", "do not", "kubectl", "rm -rf", "curl",
)


_LONG_LABEL = re.compile(r"[^\n]{501}")
_DSN_TRIGGER = re.compile(r"://[^\s/@\"']+:[^\s@/\"']*@")
# references to Secrets name them without holding them: not worth a closer look
_SECRET_REF = re.compile(r'"secretKeyRef":\{[^}]*\}|"secretRef":\{[^}]*\}')


def _any_in(text: str, needles: tuple[str, ...]) -> bool:
    return any(map(text.lower().__contains__, needles))


def might_hold_secret(text: str) -> bool:
    """Tell cheaply whether any secret pattern could match (no false negatives)."""
    return _any_in(text, _TRIGGERS) or bool(_DSN_TRIGGER.search(text))


def redact(text: str) -> str:
    """Replace every secret-looking substring with a redaction mark."""
    if not might_hold_secret(text):
        return text
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def looks_like_instruction(text: str) -> bool:
    """Tell whether a piece of data reads like an instruction aimed at an agent."""
    return _any_in(text, _INJECTION_TRIGGERS) and bool(_INJECTION.search(text))


def defuse(text: str) -> str:
    """Fence instruction-like text so every reader sees it is quoted data, never a command."""
    if not looks_like_instruction(text) or text.startswith(FENCE_OPEN):
        return text
    return f"{FENCE_OPEN} {text} {FENCE_CLOSE}"


def cap(text: str, limit: int = MAX_STRING) -> str:
    """Truncate a string to `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [truncated {len(text) - limit} chars]"


def clean_text(text: str, limit: int = MAX_STRING) -> str:
    """Redact, cap and defuse one string."""
    return defuse(cap(redact(text), limit))


def clean_value(value: Any, *, key: str = "", limit: int = MAX_STRING) -> Any:
    """Sanitize any JSON-like value recursively; values under secret-named keys are dropped."""
    if isinstance(value, str):
        if key and _SECRET_KEYS.search(key) and value:
            return REDACTED
        return clean_text(value, limit)
    if isinstance(value, dict):
        if value.get("kind") == "Secret":
            meta = value.get("metadata") or {}
            return {"apiVersion": value.get("apiVersion", "v1"), "kind": "Secret",
                    "metadata": {"name": meta.get("name", ""),
                                 "namespace": meta.get("namespace", "")},
                    "data": REDACTED}
        out = {k: clean_value(v, key=str(k), limit=limit) for k, v in value.items()}
        if isinstance(out.get("name"), str) and "value" in out and _SECRET_KEYS.search(
                out["name"]) and isinstance(out["value"], str):
            out["value"] = REDACTED  # container env entries: {"name": "DB_PASSWORD", ...}
        return out
    if isinstance(value, list):
        return [clean_value(v, key=key, limit=limit) for v in value]
    return value


def _clean_already(lines: list[str], max_lines: int, limit: int) -> bool:
    """Tell, with one scan of all the lines together, that none of them needs cleaning."""
    if len(lines) > max_lines or any(len(line) > limit for line in lines):
        return False
    text = "\n".join(lines)
    return not might_hold_secret(text) and not looks_like_instruction(text)


def _has_long_string(text: str) -> bool:
    """Tell whether JSON text holds a string longer than MAX_STRING."""
    if len(text) <= MAX_STRING:
        return False
    # escaped backslashes and quotes made plain at their own length, so that every quote left
    # ends a string: an escape counts as its two characters, never fewer (a long string is never
    # missed; a regular expression over every quote took 12 ms on 180 KB of objects)
    plain = text.replace("\\\\", "__").replace('\\"', "__")
    return max(map(len, plain.split('"'))) > MAX_STRING


def clean_object(obj: dict[str, Any], needles: tuple[str, ...] = _TRIGGERS) -> dict[str, Any]:
    """Sanitize one Kubernetes object, skipping the walk when nothing in it could need it."""
    if obj.get("kind") != "Secret":
        text = orjson.dumps(obj, default=str).decode()
        short = len(text) <= MAX_STRING or not _has_long_string(text)
        text = _SECRET_REF.sub("", text)
        if short and not _any_in(text, needles) and not _DSN_TRIGGER.search(text) and not \
                looks_like_instruction(text):
            return obj
    cleaned: dict[str, Any] = clean_value(obj)
    return cleaned


def clean_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sanitize many objects, first asking which trigger words occur in any of them at all."""
    if not objects:
        return []
    text = _SECRET_REF.sub("", orjson.dumps(objects, default=str).decode())
    low = text.lower()
    present = tuple(n for n in _TRIGGERS if n in low)
    if not present and not _DSN_TRIGGER.search(text) and not _has_long_string(text) and \
            not _any_in(text, _INJECTION_TRIGGERS):
        return [clean_value(o) if o.get("kind") == "Secret" else o for o in objects]
    return [clean_object(o, present) for o in objects]


def sanitize_snapshot(snapshot: EvidenceSnapshot) -> EvidenceSnapshot:
    """Return a copy of the snapshot that is safe to store and to show to any agent."""
    series = snapshot.series[:MAX_SERIES]
    labels = "\n".join(v for s in series for v in s.metric.values())
    if might_hold_secret(labels) or _LONG_LABEL.search(labels):
        series = [
            s if not any(might_hold_secret(v) or len(v) > 500 for v in s.metric.values())
            else s.model_copy(update={"metric": {k: cap(redact(v), 500)
                                                 for k, v in s.metric.items()}})
            for s in series]
    logs = [stream if _clean_already(stream.lines, MAX_LOG_LINES, 2000) else stream.model_copy(
        update={"lines": [clean_text(line, 2000) for line in stream.lines[-MAX_LOG_LINES:]]})
        for stream in snapshot.logs]
    documents = [doc.model_copy(update={"title": clean_text(doc.title, 300),
                                        "text": clean_text(doc.text, MAX_DOCUMENT)})
                 for doc in snapshot.documents]
    changes = [c.model_copy(update={"description": clean_text(c.description, 1000)})
               for c in snapshot.changes]
    alerts = [a.model_copy(update={
        "annotations": {k: clean_text(v, 2000) for k, v in a.annotations.items()},
        "labels": {k: cap(redact(v), 500) for k, v in a.labels.items()}})
        for a in snapshot.alerts]
    sensors = [r.model_copy(update={
        "error": clean_text(r.error, 1000) if r.error else r.error,
        "note": clean_text(r.note, 1000), "queries": [redact(q) for q in r.queries]})
        for r in snapshot.sensors]
    similar = [i.model_copy(update={"title": clean_text(i.title, 300)})
               for i in snapshot.similar]
    return snapshot.model_copy(update={
        "series": series, "objects": clean_objects(snapshot.objects[:MAX_OBJECTS]),
        "logs": logs, "documents": documents, "changes": changes, "alerts": alerts,
        "sensors": sensors, "similar": similar, "topology": list(snapshot.topology)})
