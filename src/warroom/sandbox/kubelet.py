"""The kubelet of the sandbox: pulls images, starts containers, runs probes, OOMKills, backs off.

What a container does is decided by its `Behaviour`, which the fault model derives from the
pod's template (image, env, probes, limits) and the faults in force, so an action that changes
the template (undo, set resources, restart) changes what the new containers do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from warroom.sandbox.model import Obj, mem_bytes, rfc3339

STARTUP_S = 20.0  # image pulled and container ready
LOG_LINES = 300


@dataclass
class Behaviour:
    """What the containers of one pod do, given its template and the faults in force."""

    working_set_mi: float = 200.0
    leak_mi_per_s: float = 0.0
    pullable: bool = True
    pull_error: str = ""
    crash_after_s: float | None = None
    crash_lines: list[str] = field(default_factory=list)
    liveness_ok: bool = True
    liveness_message: str = ""


@dataclass
class Container:
    """The runtime state of a pod's (single) container."""

    started: datetime | None = None
    ready_at: datetime | None = None
    memory_mi: float = 0.0
    restarts: int = 0
    backoff_until: datetime | None = None
    waiting: str = "ContainerCreating"
    waiting_message: str = ""
    last_terminated: dict[str, object] | None = None
    pulled: bool = False
    logs: list[str] = field(default_factory=list)
    previous: list[str] = field(default_factory=list)
    ip: str = ""


EventSink = Callable[..., None]


class Kubelet:
    """Every node's kubelet at once: container state per pod, rendered into pod status."""

    def __init__(self, behaviour: Callable[[Obj], Behaviour], events: EventSink) -> None:
        self.behaviour = behaviour
        self.events = events  # (obj, reason, message, now, warning=..., component=...)
        self.containers: dict[tuple[str, str], Container] = {}
        self.node_pressure: dict[str, set[str]] = {}
        self._ips = 10

    @staticmethod
    def key(pod: Obj) -> tuple[str, str]:
        """Return the (namespace, name) key of a pod."""
        return pod["metadata"]["namespace"], pod["metadata"]["name"]

    def admit(self, pod: Obj, now: datetime) -> None:
        """Take a freshly scheduled pod."""
        self._ips += 1
        ip = f"10.244.{self._ips // 250}.{self._ips % 250}"
        self.containers[self.key(pod)] = Container(ip=ip)
        pod["status"]["startTime"] = rfc3339(now)

    def forget(self, pod: Obj) -> None:
        """Drop a deleted pod's state."""
        self.containers.pop(self.key(pod), None)

    def container(self, pod: Obj) -> Container | None:
        """Return the runtime state of a pod's container."""
        return self.containers.get(self.key(pod))

    def is_ready(self, pod: Obj) -> bool:
        """Tell whether the pod is Ready (serving)."""
        for condition in pod.get("status", {}).get("conditions", []):
            if condition["type"] == "Ready":
                return bool(condition["status"] == "True")
        return False

    def log(self, pod: Obj, line: str) -> None:
        """Append a line to the pod's current container log."""
        state = self.container(pod)
        if state is not None and state.started is not None:
            state.logs.append(line)
            del state.logs[:-LOG_LINES]

    def step(self, pod: Obj, now: datetime, dt: float, *, node_ready: bool) -> None:
        """Advance one pod's container by dt seconds and render its status."""
        state = self.container(pod)
        if state is None:
            return
        spec = pod["spec"]["containers"][0]
        if not node_ready:
            self._render(pod, state, now, lost=True)
            return
        behaviour = self.behaviour(pod)
        limit_mi = mem_bytes(spec.get("resources", {}).get("limits", {}).get(
            "memory", "1Ti")) / 2**20
        if state.started is None:
            if not behaviour.pullable:
                first = state.waiting != "ErrImagePull" and state.waiting != "ImagePullBackOff"
                state.waiting = "ImagePullBackOff" if state.waiting == "ErrImagePull" \
                    else "ErrImagePull"
                state.waiting_message = (f'Back-off pulling image "{spec["image"]}"'
                                         if state.waiting == "ImagePullBackOff"
                                         else behaviour.pull_error)
                if first:
                    self.events(pod, "Pulling", f'Pulling image "{spec["image"]}"', now)
                self.events(pod, "Failed", f'Failed to pull image "{spec["image"]}": '
                            f"{behaviour.pull_error}", now, warning=True)
                self.events(pod, "Failed", f"Error: {state.waiting}", now, warning=True)
                if state.waiting == "ImagePullBackOff":
                    self.events(pod, "BackOff", state.waiting_message, now)
            elif state.backoff_until is None or now >= state.backoff_until:
                self._start(pod, state, spec, behaviour, now)
        else:
            age = (now - state.started).total_seconds()
            grown = state.memory_mi + behaviour.leak_mi_per_s * dt if behaviour.leak_mi_per_s \
                else 0.0
            state.memory_mi = min(max(behaviour.working_set_mi, grown), limit_mi * 1.01)
            if state.memory_mi >= limit_mi:
                self._terminate(pod, state, now, "OOMKilled", 137, [
                    f"{rfc3339(now)} WARN heap in use {round(limit_mi * 0.97)}Mi / "
                    f"{round(limit_mi)}Mi"])
            elif behaviour.crash_after_s is not None and age >= behaviour.crash_after_s:
                self._terminate(pod, state, now, "Error", 1, [
                    line.replace("{ts}", rfc3339(now)) for line in behaviour.crash_lines])
            elif not behaviour.liveness_ok and age >= _probe_deadline(spec):
                self.events(pod, "Unhealthy", "Liveness probe failed: "
                            f"{behaviour.liveness_message}", now, warning=True)
                self.events(pod, "Killing", f"Container {spec['name']} failed liveness probe, "
                            "will be restarted", now)
                self._terminate(pod, state, now, "Error", 137, [
                    f"{rfc3339(now)} INFO received SIGTERM, shutting down"])
            elif not behaviour.liveness_ok:
                self.events(pod, "Unhealthy", f"Readiness probe failed: "
                            f"{behaviour.liveness_message}", now, warning=True)
        self._render(pod, state, now, lost=False, behaviour=behaviour)

    def _start(self, pod: Obj, state: Container, spec: Obj, behaviour: Behaviour,
               now: datetime) -> None:
        if not state.pulled:
            self.events(pod, "Pulling", f'Pulling image "{spec["image"]}"', now)
            self.events(pod, "Pulled", f'Successfully pulled image "{spec["image"]}"', now)
            state.pulled = True
        self.events(pod, "Created", f"Created container {spec['name']}", now)
        self.events(pod, "Started", f"Started container {spec['name']}", now)
        state.started = now
        state.ready_at = now + timedelta(seconds=STARTUP_S if state.restarts == 0 else 5)
        state.memory_mi = behaviour.working_set_mi
        state.waiting = ""
        version = spec["image"].rsplit(":", 1)[-1]
        state.logs.append(f"{rfc3339(now)} INFO starting {spec['name']} {version}")

    def _terminate(self, pod: Obj, state: Container, now: datetime, reason: str, code: int,
                   lines: list[str]) -> None:
        state.logs.extend(lines)
        state.previous, state.logs = state.logs[-LOG_LINES:], []
        state.last_terminated = {"exitCode": code, "reason": reason,
                                 "startedAt": rfc3339(state.started or now),
                                 "finishedAt": rfc3339(now),
                                 "containerID": "containerd://" + _digest(
                                     f"{pod['metadata']['uid']}/{state.restarts}")}
        state.restarts += 1
        state.started = None
        state.backoff_until = now + timedelta(seconds=min(10 * 2 ** (state.restarts - 1), 300))
        state.waiting = "CrashLoopBackOff"
        name = pod["spec"]["containers"][0]["name"]
        state.waiting_message = (f"back-off {min(10 * 2 ** (state.restarts - 1), 300)}s "
                                 f"restarting failed container={name} pod={pod['metadata']['name']}"
                                 f"_{pod['metadata']['namespace']}({pod['metadata']['uid']})")
        self.events(pod, "BackOff", f"Back-off restarting failed container {name} in pod "
                    f"{pod['metadata']['name']}_{pod['metadata']['namespace']}"
                    f"({pod['metadata']['uid']})", now, warning=True)

    def _render(self, pod: Obj, state: Container, now: datetime, *, lost: bool,
                behaviour: Behaviour | None = None) -> None:
        spec = pod["spec"]["containers"][0]
        running = state.started is not None
        ready = (not lost and running and state.ready_at is not None and now >= state.ready_at
                 and (behaviour is None or behaviour.liveness_ok))
        if state.started is not None:
            current: dict[str, object] = {"running": {"startedAt": rfc3339(state.started)}}
        else:
            current = {"waiting": {"reason": state.waiting, **(
                {"message": state.waiting_message} if state.waiting_message else {})}}
        status = {
            "name": spec["name"], "image": spec["image"],
            "imageID": f"{spec['image']}@sha256:{_digest(spec['image'])}" if state.pulled else "",
            "ready": ready, "started": running, "restartCount": state.restarts,
            "state": current,
            "lastState": {"terminated": state.last_terminated} if state.last_terminated else {},
        }
        stamp = rfc3339(now)
        phase = "Running" if running or state.restarts else "Pending"
        pod["status"] = {
            "phase": "Unknown" if lost else phase,
            **({"reason": "NodeLost", "message": f"Node {pod['spec']['nodeName']} which was "
                "running pod is unresponsive"} if lost else {}),
            "hostIP": "10.0.0." + pod["spec"]["nodeName"].rsplit("-", 1)[-1],
            "podIP": state.ip, "startTime": pod["status"].get("startTime", stamp),
            "qosClass": "Burstable",
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": stamp},
                {"type": "Ready", "status": "True" if ready else "False",
                 "lastTransitionTime": stamp},
                {"type": "ContainersReady", "status": "True" if ready else "False",
                 "lastTransitionTime": stamp},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp},
            ],
            "containerStatuses": [status],
        }


def _probe_deadline(container: Obj) -> float:
    probe = container.get("livenessProbe") or {}
    return float(probe.get("initialDelaySeconds", 0)) + float(
        probe.get("periodSeconds", 10)) * float(probe.get("failureThreshold", 3))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
