"""Fault injectors for faults that arrive with a rollout: deploys, configuration, images, probes."""

from __future__ import annotations

from datetime import timedelta

from warroom.scenarios.generator_effects import (
    Ctx,
    Injected,
    caller_logs,
    crashloop,
    deploy_change,
    new_revision,
    own_logs,
    propagate,
    service_symptoms,
)
from warroom.scenarios.generator_faults import _EXC, _bystander_forbidden, _errors_on, pick_app
from warroom.scenarios.generator_world import Pod, event, pod_name, stamp


def bad_deploy(c: Ctx) -> Injected:
    """Roll out a new revision that starts failing requests right after."""
    w = pick_app(c)
    deployed = c.onset_time - timedelta(minutes=c.rng.uniform(1, 12 if c.difficulty != "hard"
                                                             else 35))
    new_revision(c, w, at=deployed)
    for p in w.pods:
        p.rs_hash = w.rs_hash
        old_name, p.name = p.name, pod_name(c.world, w)
        p.created = deployed + timedelta(seconds=c.rng.randint(5, 90))
        c.tel.roll_pod(old_name, p.name, p.created)
    crashing = c.rng.random() < 0.4
    if not crashing and c.rng.random() < 0.4:  # the broken build also fails its readiness probe
        for p in w.pods[: max(1, len(w.pods) // 2)]:
            p.ready = False
            p.conditions["Ready"] = ("False", "ContainersNotReady",
                                     f"containers with unready status: [{w.name}]")
            event(c.world, ns=w.namespace, kind="Pod", name=p.name, reason="Unhealthy",
                  message="Readiness probe failed: HTTP probe failed with statuscode: 500",
                  first=c.onset_time, last=c.world.now, count=c.rng.randint(20, 90),
                  host=p.node, field_path=f"spec.containers{{{w.name}}}")
    if crashing:
        for p in w.pods[: max(1, len(w.pods) // 2)]:
            crashloop(c, w, p, reason="Error", exit_code=c.rng.choice([1, 2]),
                      restarts=c.rng.randint(3, 9))
            own_logs(c, w, _EXC[w.lang], level="fatal" if w.lang == "node" else "error", n=2,
                     pods=[p], previous=True, lo=0.4)
    _errors_on(c, w, c.rng.uniform(0.08, 0.6))
    feed = [] if c.difficulty == "hard" and c.rng.random() < 0.5 else [
        deploy_change(c, w, deployed)]
    return Injected(w.namespace, w.name, "bad_deploy", w.name, changes=feed,
                    acceptable=[{"type": "rollout_undo", "target": w.target},
                                {"type": "escalate"}],
                    forbidden=_bystander_forbidden(c, w))

def config_error(c: Ctx) -> Injected:
    """Break a workload's configuration, rolled out or edited in place."""
    w = pick_app(c)
    at = c.onset_time - timedelta(minutes=c.rng.uniform(1, 8))
    key_name = c.rng.choice(["DATABASE_URL", "PAYMENT_PROVIDER_URL", "FEATURE_FLAGS_PATH",
                             "REDIS_ADDR", "JWT_ISSUER"])
    rolled = c.rng.random() < 0.55
    msgs = [f"invalid configuration: required key {key_name} is empty",
            f"config: failed to parse {key_name}: invalid URI scheme",
            "startup failed: configuration validation error, exiting"]
    if rolled:
        new_revision(c, w, at=at, image=w.image)
        cm_new = f"{w.name}-config-{c.rng.getrandbits(32):08x}"[:len(w.name) + 17]
        for p in w.pods[: max(1, len(w.pods) // 2)]:
            p2 = Pod(name=pod_name(c.world, w), node=p.node, created=at, rs_hash=w.rs_hash)
            crashloop(c, w, p2, reason="Error", exit_code=1, restarts=c.rng.randint(3, 8))
            own_logs(c, w, msgs, level="error", n=2, pods=[p2], previous=True, lo=0.3)
            w.pods.append(p2)
        for p in w.pods:
            if p.rs_hash is None:
                p.rs_hash, p.old_revision = w.prev_rs_hash, True
        change = {"time": stamp(at), "kind": "config", "target": w.target,
                  "description": f"envFrom configMapRef {w.name}-config -> {cm_new} "
                                 f"({key_name} changed)"}
        acceptable = [{"type": "rollout_undo", "target": w.target}, {"type": "escalate"}]
    elif c.rng.random() < 0.4:  # a key the pods need was removed: they cannot even start
        for p in w.pods:  # recreated after the edit, they fail before starting
            p.ready, p.created = False, at + timedelta(minutes=1)
            p.state = {"waiting": {"reason": "CreateContainerConfigError",
                                   "message": f"couldn't find key {key_name} in ConfigMap "
                                              f"{w.namespace}/{w.name}-config"}}
        change = {"time": stamp(at), "kind": "config",
                  "target": f"{w.namespace}/configmap/{w.name}-config",
                  "description": f"data.{key_name} removed"}
        acceptable = [{"type": "escalate"}]
    else:
        for p in w.pods:
            crashloop(c, w, p, reason="Error", exit_code=1, restarts=c.rng.randint(2, 6))
            own_logs(c, w, msgs, level="error", n=2, pods=[p], previous=True, lo=0.3)
        change = {"time": stamp(at), "kind": "config",
                  "target": f"{w.namespace}/configmap/{w.name}-config",
                  "description": f"data.{key_name} edited"}
        acceptable = [{"type": "escalate"}]
    service_symptoms(c, w, errors=c.rng.uniform(0.1, 0.5), latency=1.3)
    propagate(c, w.name, latency=1.3, errors=0.1, hops=2)
    return Injected(w.namespace, w.name, "config_error", w.name, changes=[change],
                    acceptable=acceptable, human_required=True,
                    alerts=[({"alertname": "KubeDeploymentReplicasMismatch",
                              "namespace": w.namespace, "deployment": w.name},
                             f"deployment {w.namespace}/{w.name} has not matched the expected "
                             "number of replicas")],
                    forbidden=_bystander_forbidden(c, w))

def image_pull_error(c: Ctx) -> Injected:
    """Roll out an image that cannot be pulled; old pods keep serving."""
    w = pick_app(c)
    at = c.onset_time - timedelta(minutes=c.rng.uniform(1, 6))
    bad_tag = c.rng.choice([f"{w.version}-rc1", "latset", f"v{w.version}", f"{w.version}-bad"])
    image = w.image.rsplit(":", 1)[0] + ":" + bad_tag
    new_revision(c, w, at=at, image=image)
    why = c.rng.choice(["manifest unknown", "not found",
                        "pull access denied, repository does not exist or may require "
                        "authorization: authorization failed",
                        "failed to resolve reference: unexpected status 401 Unauthorized"])
    for p in w.pods:
        p.rs_hash, p.old_revision = w.prev_rs_hash, True
    for _ in range(c.rng.randint(1, 2)):
        node = c.rng.choice(c.world.nodes).name
        p = Pod(name=pod_name(c.world, w), node=node, created=at, rs_hash=w.rs_hash,
                image=image, ready=False)
        reason = c.rng.choice(["ImagePullBackOff", "ErrImagePull"])
        p.state = {"waiting": {"reason": reason,
                               "message": f"Back-off pulling image \"{image}\""}}
        p.phase = "Pending"
        w.pods.append(p)
        event(c.world, ns=w.namespace, kind="Pod", name=p.name, reason="Failed",
              message=f"Failed to pull image \"{image}\": rpc error: code = NotFound desc = "
                      f"failed to pull and unpack image \"{image}\": {why}",
              first=at, last=c.world.now, count=c.rng.randint(4, 12), host=node)
        event(c.world, ns=w.namespace, kind="Pod", name=p.name, reason="BackOff",
              message=f"Back-off pulling image \"{image}\"", first=at, last=c.world.now,
              count=c.rng.randint(10, 40), host=node)
    service_symptoms(c, w, latency=c.rng.uniform(1.0, 1.4))
    return Injected(w.namespace, w.name, "image_pull_error", w.name,
                    changes=[deploy_change(c, w, at, f"image {w.name}:{w.prev_version} -> "
                                                     f"{w.name}:{bad_tag}")],
                    alerts=[({"alertname": "KubePodNotReady", "namespace": w.namespace,
                              "pod": w.pods[-1].name},
                             f"pod {w.namespace}/{w.pods[-1].name} has been in a non-ready "
                             "state for longer than 5 minutes")],
                    acceptable=[{"type": "rollout_undo", "target": w.target},
                                {"type": "escalate"}],
                    forbidden=_bystander_forbidden(c, w))

def probe_failure(c: Ctx) -> Injected:
    """Fail a workload's readiness probes, from a deploy or on their own."""
    w = pick_app(c)
    by_deploy = c.rng.random() < 0.5
    changes = []
    if by_deploy:
        at = c.onset_time - timedelta(minutes=c.rng.uniform(1, 8))
        old_t = w.probe_timeout
        new_revision(c, w, at=at)
        if c.rng.random() < 0.5:
            w.probe_timeout = 1
            what = f"readinessProbe timeoutSeconds {old_t} -> 1"
        else:
            old_path, w.probe_path = w.probe_path, "/health/ready"
            what = f"readinessProbe path {old_path} -> /health/ready"
        changes.append(deploy_change(c, w, at, f"image {w.name}:{w.prev_version} -> "
                                               f"{w.name}:{w.version}; {what}"))
        for p in w.pods:
            p.rs_hash = w.rs_hash
    msg = ("Readiness probe failed: HTTP probe failed with statuscode: 404"
           if w.probe_path == "/health/ready" else
           f"Readiness probe failed: Get \"http://10.244.{c.rng.randint(1, 9)}."
           f"{c.rng.randint(2, 250)}"
           f":{w.port}{w.probe_path}\": context deadline exceeded (Client.Timeout exceeded "
           "while awaiting headers)")
    for p in w.pods[: max(1, len(w.pods) - 1)]:
        p.ready = False
        p.conditions["Ready"] = ("False", "ContainersNotReady",
                                 f"containers with unready status: [{w.name}]")
        event(c.world, ns=w.namespace, kind="Pod", name=p.name, reason="Unhealthy",
              message=msg, first=c.onset_time, last=c.world.now,
              count=c.rng.randint(20, 120), host=p.node, field_path=f"spec.containers{{{w.name}}}")
        if c.difficulty != "hard" and c.rng.random() < 0.5:
            p.restarts = c.rng.randint(1, 5)
            p.last_state = {"terminated": {"reason": "Error", "exitCode": 137,
                                           "finishedAt": stamp(c.when(0.3, 0.9))}}
            event(c.world, ns=w.namespace, kind="Pod", name=p.name, reason="Killing",
                  etype="Normal", message=f"Container {w.name} failed liveness probe, will be "
                                          "restarted", first=c.when(0.2, 0.9), host=p.node)
    service_symptoms(c, w, errors=c.rng.uniform(0.03, 0.25), latency=c.rng.uniform(1.1, 1.8))
    propagate(c, w.name, latency=1.3, errors=0.05, hops=2)
    caller_logs(c, w.name, ["call to {dep} failed: 503 Service Unavailable (no healthy "
                            "upstream)"], n=3)
    acceptable = [{"type": "rollout_undo", "target": w.target}] if by_deploy else []
    return Injected(w.namespace, w.name, "probe_failure", w.name, changes=changes,
                    alerts=[({"alertname": "KubeDeploymentReplicasMismatch",
                              "namespace": w.namespace, "deployment": w.name},
                             f"deployment {w.namespace}/{w.name} replicas not ready")],
                    acceptable=[*acceptable, {"type": "escalate"}],
                    forbidden=_bystander_forbidden(c, w))


ROLLOUT_INJECTORS = {
    "bad_deploy": bad_deploy, "config_error": config_error,
    "image_pull_error": image_pull_error, "probe_failure": probe_failure,
}
