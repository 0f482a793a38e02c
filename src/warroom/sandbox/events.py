"""Core v1 Events, recorded and deduplicated the way the API server's correlator does."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from warroom.sandbox.model import Obj, ObjectStore, rfc3339


@dataclass
class Events:
    """Core v1 Events, deduplicated the way the API server's event correlator does."""

    store: ObjectStore
    limit: int = 600
    _keys: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def record(self, obj: Obj, reason: str, message: str, now: datetime, *,
               warning: bool = False, component: str = "kubelet") -> None:
        """Emit (or count again) an event about an object."""
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        key = (meta["uid"], reason, message)
        stamp = rfc3339(now)
        existing = self.store.get("Event", self._keys.get(key, ""), namespace)
        if existing is not None:
            existing["count"] += 1
            existing["lastTimestamp"] = stamp
            existing["metadata"]["resourceVersion"] = self.store.next_version()
            return
        name = f"{meta['name']}.{self.store.next_version()}"
        self._keys[key] = name
        self.store.put({
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {"apiVersion": obj.get("apiVersion", "v1"), "kind": obj["kind"],
                               "name": meta["name"], "namespace": meta.get("namespace", ""),
                               "uid": meta["uid"]},
            "reason": reason, "message": message, "type": "Warning" if warning else "Normal",
            "source": {"component": component}, "count": 1,
            "firstTimestamp": stamp, "lastTimestamp": stamp,
            "reportingComponent": component,
        }, now)
        events = self.store.list("Event")
        if len(events) > self.limit:
            oldest = sorted(events, key=lambda e: int(e["metadata"]["resourceVersion"]))
            for event in oldest[: len(events) - self.limit]:
                self.store.delete("Event", event["metadata"]["name"],
                                  event["metadata"]["namespace"])
