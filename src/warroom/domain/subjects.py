"""What an alert or a series is about when an exporter reports on other objects.

kube-state-metrics and the kubelet (with its cAdvisor) report on pods, workloads, volume claims
and nodes. Scraped with `honorLabels`, their series keep the subject's `namespace`, `pod` and
`container`, but the `service`, `endpoint` and `instance` the scrape adds, and its `job`, name
the exporter: kube-prometheus' KubePodCrashLooping carries
`service="prometheus-kube-state-metrics"` beside the crashing pod. Ingest (grouping, the
incident's service) and the Diagnostician (where an alert points) both read the subject.
"""

from __future__ import annotations

import re

OBJECT_EXPORTER_JOB = re.compile(r"kube-state-metrics|kubelet|cadvisor", re.I)
# subjects that are not a pod (beside them, a `pod` label is the exporter's own), and all of them
_NOT_POD_SUBJECTS = ("deployment", "statefulset", "daemonset", "replicaset", "job_name",
                     "cronjob", "horizontalpodautoscaler", "persistentvolumeclaim")
_SUBJECTS = ("pod", *_NOT_POD_SUBJECTS, "node")
_EXPORTER_OWN = ("service", "endpoint", "instance", "job")


def subject_labels(labels: dict[str, str]) -> dict[str, str]:
    """Return the labels without the exporter's own when an object exporter reports on a
    subject (a pod, a workload, a claim, a node); otherwise the labels as they are.

    A series about a workload, an autoscaler or a claim has no pod of its own: the `pod` and
    `container` the scrape added beside it are the exporter's too.
    """
    if not OBJECT_EXPORTER_JOB.search(labels.get("job", "")) or not any(
            labels.get(k) for k in _SUBJECTS):
        return labels
    own = _EXPORTER_OWN + (("pod", "container") if any(
        labels.get(k) for k in _NOT_POD_SUBJECTS) else ())
    return {k: v for k, v in labels.items() if k not in own}
