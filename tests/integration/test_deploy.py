"""The manifests shipped in deploy/ are valid and feed the series the sensors ask for."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from warroom.sensors.prometheus import NAMESPACE_SERIES, NODE_SERIES, SERVICE_SERIES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

pytestmark = pytest.mark.integration


def test_recording_rules_pass_promtool(prometheus_binary: str) -> None:
    promtool = Path(prometheus_binary).with_name("promtool")
    result = subprocess.run([str(promtool), "check", "rules", str(DEPLOY / "recording-rules.yaml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_nodes_rules_name_it_by_its_instance_without_the_port(
        prometheus_binary: str, tmp_path: Path) -> None:
    # kube-prometheus relabels node-exporter's instance to the node's name; a plain scrape
    # leaves the address and port
    disk = [("10.0.1.5:9100", 25), ("worker-2", 50)]
    series = [f"      - series: '{name}{{instance=\"{instance}\", mountpoint=\"/\"}}'\n"
              f"        values: '{value}x10'\n"
              for instance, avail in disk
              for name, value in (("node_filesystem_avail_bytes", avail),
                                  ("node_filesystem_size_bytes", 100))]
    tests = tmp_path / "rules-test.yaml"
    tests.write_text(
        f"rule_files:\n  - {DEPLOY / 'recording-rules.yaml'}\n"
        "evaluation_interval: 30s\n"
        "tests:\n  - interval: 30s\n    input_series:\n" + "".join(series) +
        "    promql_expr_test:\n      - expr: node:filesystem_usage:ratio\n"
        "        eval_time: 2m\n        exp_samples:\n"
        "          - labels: 'node:filesystem_usage:ratio{node=\"10.0.1.5\"}'\n"
        "            value: 0.75\n"
        "          - labels: 'node:filesystem_usage:ratio{node=\"worker-2\"}'\n"
        "            value: 0.5\n")
    promtool = Path(prometheus_binary).with_name("promtool")
    result = subprocess.run([str(promtool), "test", "rules", str(tests)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_recorded_series_is_one_the_prometheus_sensor_queries() -> None:
    groups = yaml.safe_load((DEPLOY / "recording-rules.yaml").read_text())["groups"]
    recorded = {rule["record"] for group in groups for rule in group["rules"]}
    asked = set(SERVICE_SERIES) | set(NAMESPACE_SERIES) | set(NODE_SERIES)
    assert recorded <= asked, recorded - asked
    # the golden signals and pod saturation the diagnosis leans on are all recorded
    assert {"service:requests:rate1m", "service:errors:ratio_rate1m",
            "service:latency_seconds:p99_1m", "pod:memory_working_set:ratio",
            "pod:cpu_usage:ratio"} <= recorded


def test_rbac_grants_no_access_to_secrets_or_rbac() -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "rbac.yaml").read_text()))
    rules = [r for d in docs if d["kind"] == "ClusterRole" for r in d["rules"]]
    resources = {res for r in rules for res in r["resources"]}
    verbs = {v for r in rules for v in r["verbs"]}
    assert not resources & {"secrets", "roles", "rolebindings", "clusterroles",
                            "clusterrolebindings", "persistentvolumes", "namespaces/finalize"}
    assert "*" not in verbs and "*" not in resources
    deletable = {res for r in rules if "delete" in r["verbs"] for res in r["resources"]}
    assert deletable == {"pods"}
