"""kubectl's text output in documents, read back into the objects it prints.

`kubectl describe` (header fields, container `State` / `Last State`, the `Events:` table) and
`kubectl events` / `kubectl get events` tables are fixed formats. Tool output pasted into an
incident (a runbook step, an agent's transcript) carries the same facts the API objects do, so
it is parsed into synthetic Pod and Event objects and judged by the same Kubernetes analyzers.
Text is matched as data: nothing in it is ever executed or followed.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from warroom.sensors.models import Document

_FIELD = re.compile(r"^(?P<indent> *)(?P<key>[A-Z][\w -]*?):\s*(?P<value>.*)$")
_DESCRIBE_TITLE = re.compile(r"describe\s+(?P<kind>[A-Za-z.]+)[\s/]+(?P<name>[\w.-]+)", re.I)
_NS_FLAG = re.compile(r"(?:-n|--namespace)[ =]([\w-]+)")
_JSON_ARG = re.compile(r'"(kind|name|namespace)":\s*"([\w.-]+)"')
_AGE = re.compile(r"(\d+)([dhms])")
_COUNT = re.compile(r"\(x(\d+) over")
_KINDS = {"pod": "Pod", "pods": "Pod", "po": "Pod", "deployment": "Deployment",
          "deploy": "Deployment", "deployments": "Deployment", "replicaset": "ReplicaSet",
          "rs": "ReplicaSet", "statefulset": "StatefulSet", "sts": "StatefulSet",
          "daemonset": "DaemonSet", "ds": "DaemonSet", "job": "Job", "node": "Node",
          "persistentvolumeclaim": "PersistentVolumeClaim", "pvc": "PersistentVolumeClaim",
          "cronjob": "CronJob", "service": "Service"}
_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def _age(text: str) -> timedelta | None:
    """Parse a kubectl age (`9m28s`, `5h31m`, `91d`); None when there is none."""
    parts = _AGE.findall(text.split("(")[0])
    if not parts:
        return None
    return timedelta(seconds=sum(int(n) * _UNIT[u] for n, u in parts))


def _kind(raw: str) -> str:
    return _KINDS.get(raw.lower().split(".")[0], raw[:1].upper() + raw[1:])


def _event(kind: str, ns: str, name: str, etype: str, reason: str, message: str,
           age: timedelta | None, count: int, now: datetime) -> dict[str, Any]:
    last = now - (age or timedelta(0))
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{name}.doc", "namespace": ns},
            "involvedObject": {"kind": kind, "name": name, "namespace": ns},
            "type": etype, "reason": reason, "message": message, "count": count,
            "firstTimestamp": last.isoformat(), "lastTimestamp": last.isoformat()}


def _events_table(lines: list[str], start: int, subject: tuple[str, str, str],
                  now: datetime) -> list[dict[str, Any]]:
    """Read the `Events:` table of a describe output (Type Reason Age From Message)."""
    out = []
    for line in lines[start:]:
        if line.strip().startswith(("Type", "----")) or not line.strip():
            continue
        if not line.startswith(" "):
            break
        cols = re.split(r"\s{2,}", line.strip(), maxsplit=4)
        if len(cols) < 5 or cols[0] not in ("Warning", "Normal"):
            continue
        m = _COUNT.search(cols[2])
        out.append(_event(*subject, cols[0], cols[1], cols[4], _age(cols[2]),
                          int(m.group(1)) if m else 1, now))
    return out


def _describe(doc: Document, now: datetime) -> list[dict[str, Any]]:
    """Read one `kubectl describe` output into a Pod (container states) and its Events."""
    lines = doc.text.splitlines()
    head: dict[str, str] = {}
    for line in lines[:40]:
        m = _FIELD.match(line)
        if m and not m.group("indent") and m.group("key") not in head:
            head[m.group("key")] = m.group("value").strip()
    title = _DESCRIBE_TITLE.search(doc.title)
    args = dict(_JSON_ARG.findall(doc.title))
    name = head.get("Name") or (title.group("name") if title else args.get("name", ""))
    kind = _kind(title.group("kind") if title else args.get("kind", ""))
    ns_flag = _NS_FLAG.search(doc.title)
    ns = head.get("Namespace") or (ns_flag.group(1) if ns_flag else args.get("namespace", ""))
    if not name or not kind:
        return []
    out: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        if line.startswith("Events:"):
            out += _events_table(lines, i + 1, (kind, ns, name), now)
            break
    if kind == "Pod":
        pod = _pod_states(lines, ns, name, head)
        if pod is not None:
            out.append(pod)
    return out


def _pod_states(lines: list[str], ns: str, name: str,
                head: dict[str, str]) -> dict[str, Any] | None:
    """Rebuild a Pod's container states (waiting/terminated reasons, restarts) from describe."""
    statuses: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    block = ""
    for line in lines:
        m = _FIELD.match(line)
        if not m:
            continue
        key, value = m.group("key"), m.group("value").strip()
        if key in ("State", "Last State"):
            block = "state" if key == "State" else "lastState"
            if block == "state" and current:
                statuses.append(current)
                current = {}
            current.setdefault("name", f"c{len(statuses)}")
            word = value.split()[0].lower() if value else ""
            if word in ("waiting", "terminated", "running"):
                current[block] = {word: {}}
        elif block and key in ("Reason", "Exit Code", "Message") and current.get(block):
            inner = next(iter(current[block].values()))
            inner[{"Reason": "reason", "Exit Code": "exitCode",
                   "Message": "message"}[key]] = int(value) if key == "Exit Code" and \
                value.isdigit() else value
        elif key == "Restart Count" and current:
            current["restartCount"] = int(value) if value.isdigit() else 0
            block = ""
    if current:
        statuses.append(current)
    if not statuses:
        return None
    for cs in statuses:
        cs.setdefault("state", {})
        if "lastState" in cs:
            cs["lastState"] = {k: v for k, v in cs["lastState"].items() if k == "terminated"}
    owner = head.get("Controlled By", "")
    refs = [{"kind": owner.split("/")[0], "name": owner.split("/", 1)[1], "controller": True}] \
        if "/" in owner else []
    node = head.get("Node", "").split("/")[0]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "ownerReferences": refs},
            "spec": {"nodeName": node} if node and node != "<none>" else {},
            "status": {"phase": head.get("Status", ""), "containerStatuses": statuses}}


def _events_listing(doc: Document, now: datetime) -> list[dict[str, Any]]:
    """Read a `kubectl events` / `kubectl get events` table (LAST SEEN TYPE REASON OBJECT...)."""
    lines = doc.text.splitlines()
    ns_flag = _NS_FLAG.search(doc.title)
    out: list[dict[str, Any]] = []
    header: list[str] = []
    for line in lines:
        if "LAST SEEN" in line and "REASON" in line:
            header = re.split(r"\s{2,}", line.strip())
            continue
        if not header or not line.strip():
            continue
        cols = dict(zip(header, re.split(r"\s{2,}", line.strip(), maxsplit=len(header) - 1),
                        strict=False))
        obj = cols.get("OBJECT", "")
        if "/" not in obj or cols.get("TYPE") not in ("Warning", "Normal"):
            continue
        kind, name = obj.split("/", 1)
        ns = cols.get("NAMESPACE") or (ns_flag.group(1) if ns_flag else "")
        m = _COUNT.search(cols.get("LAST SEEN", ""))
        out.append(_event(_kind(kind), ns, name, cols["TYPE"], cols.get("REASON", ""),
                          cols.get("MESSAGE", ""), _age(cols.get("LAST SEEN", "")),
                          int(m.group(1)) if m else 1, now))
    return out


def objects_from_documents(documents: list[Document], now: datetime) -> list[dict[str, Any]]:
    """Return the Pods and Events that kubectl text in the documents describes."""
    out: list[dict[str, Any]] = []
    for doc in documents:
        head = doc.text.lstrip()[:400]
        if "describe" in doc.title.lower() or (head.startswith("Name:") and "\nNamespace:" in
                                                 head):
            out += _describe(doc, now)
        elif "LAST SEEN" in head.splitlines()[0] if head else False:
            out += _events_listing(doc, now)
    return out
