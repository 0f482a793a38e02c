"""Labels read as about what a series measures: renamed by a scrape (`exported_*`), node-
exporter's about its node, OpenTelemetry's Kubernetes attributes."""

from __future__ import annotations

from warroom.agents.diagnostician import diagnose_snapshot
from warroom.agents.diagnostician.anomaly import place_of
from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.labels import cloudwatch_labels, exporters_labels, otel_labels
from warroom.agents.diagnostician.topology import alert_entities

from .diag_builders import alert, flat, node, series, snapshot, stepped
from .test_families import counter


def test_labels_a_scrape_renamed_are_the_exporters() -> None:
    # NGINX ingress names its backend; its scrape target is the ingress controller
    ingress = series("nginx_ingress_controller_requests", [5.0] * 5, exported_namespace="shop",
                     exported_service="cart", ingress="shop", status="200",
                     namespace="ingress-nginx", service="ingress-nginx-controller-metrics",
                     pod="ingress-nginx-controller-7d9f8b-x2k4p", job="ingress-nginx")
    assert exporters_labels(ingress.metric) == {
        "__name__": "nginx_ingress_controller_requests", "namespace": "shop",
        "service": "cart", "ingress": "shop", "status": "200"}
    plain = {"namespace": "shop", "service": "cart"}
    assert exporters_labels(plain) is plain
    ix = Index.build(snapshot(series=[ingress]))
    assert {place_of(ix, s) for s in ix.snapshot.series} == {("shop", "cart")}
    on_backend = alert({"alertname": "IngressErrors", "exported_namespace": "shop",
                        "exported_service": "cart", "namespace": "ingress-nginx"})
    assert alert_entities(ix, [on_backend]) == [("shop", "cart")]


def test_a_node_exporters_series_and_alerts_are_about_their_node() -> None:
    worker = node("worker-1")
    worker["status"]["addresses"] = [{"type": "InternalIP", "address": "10.0.1.5"},
                                     {"type": "Hostname", "address": "worker-1"}]
    by_label = series("node_load1", [1.0] * 5, job="node-exporter", instance="10.0.1.5:9100",
                      node="worker-1")
    by_chart = series("node_load1", [1.0] * 5, job="node-exporter", instance="10.0.1.5:9100",
                      kubernetes_node="worker-1")
    by_name = series("node_load1", [1.0] * 5, job="node-exporter", instance="worker-1:9100")
    by_address = series("node_filesystem_avail_bytes", [1.0] * 5, job="node-exporter",
                        instance="10.0.1.5:9100", mountpoint="/")
    # kube-prometheus: node-exporter's own DaemonSet pod, namespace and Service beside
    scraped = series("node_memory_MemAvailable_bytes", [1.0] * 5, job="node-exporter",
                     instance="10.0.1.5:9100", namespace="monitoring", service="node-exporter",
                     pod="node-exporter-x7k2p", container="node-exporter", endpoint="https")
    app = series("http_requests_total", [1.0] * 5, job="checkout", instance="10.0.9.9:8080")
    in_pod = series("container_cpu_usage_seconds_total", [1.0] * 5, namespace="shop",
                    pod="cart-7f9dd8b6c4-x7gr9", node="worker-1")
    ix = Index.build(snapshot(series=[by_label, by_chart, by_name, by_address, scraped, app,
                                      in_pod], objects=[worker]))
    for s in (by_label, by_chart, by_name, by_address):
        assert place_of(ix, s) == ("", "worker-1"), s.metric
    own = next(s for s in ix.snapshot.series if s.name == scraped.name)
    assert own.metric == {"__name__": scraped.name, "job": "node-exporter",
                          "instance": "10.0.1.5:9100", "node": "worker-1"}
    assert place_of(ix, own) == ("", "worker-1")
    assert place_of(ix, app) == ("", "checkout")  # a plain Prometheus names a service by job
    assert place_of(ix, in_pod) == ("shop", "cart")
    disk = alert({"alertname": "NodeFilesystemSpaceFillingUp", "job": "node-exporter",
                  "instance": "10.0.1.5:9100", "mountpoint": "/"})
    assert alert_entities(ix, [disk]) == [("", "worker-1")]
    on_exporter_pod = alert({"alertname": "NodeFilesystemAlmostFull", "job": "node-exporter",
                             "instance": "10.0.1.5:9100", "namespace": "monitoring",
                             "pod": "node-exporter-x7k2p", "service": "node-exporter"})
    assert alert_entities(ix, [on_exporter_pod]) == [("", "worker-1")]
    # without objects, node-exporter's instance is still a node
    alone = Index.build(snapshot(series=[by_name]))
    assert place_of(alone, next(iter(alone.snapshot.series))) == ("", "worker-1")
    assert "worker-1" in alone.node_names


def test_a_scrape_target_named_as_a_node_is_that_node_whichever_series_comes_first() -> None:
    # the kubelet's own series, scraped from the host it runs on
    kubelet = series("process_resident_memory_bytes", [9e7] * 5, job="kubelet",
                     instance="worker-1:10250")
    pressure = series("node:cpu_usage:ratio", [0.5] * 5, node="worker-1")
    for order in ([kubelet, pressure], [pressure, kubelet]):
        ix = Index.build(snapshot(series=order))
        assert ix.node_names == {"worker-1"} and not ix.targets
        assert {place_of(ix, s) for s in ix.snapshot.series} == {("", "worker-1")}


def test_opentelemetrys_kubernetes_attributes_are_prometheus_labels() -> None:
    # the kubeletstats receiver's pod CPU, as the collector exports it to Prometheus
    usage = series("k8s_pod_cpu_limit_utilization", [0.3] * 5, k8s_namespace_name="shop",
                   k8s_pod_name="cart-7f9dd8b6c4-x7gr9", k8s_node_name="worker-1",
                   k8s_deployment_name="cart", job="otel-collector")
    assert otel_labels(usage.metric) == {
        "__name__": "k8s_pod_cpu_limit_utilization", "namespace": "shop",
        "pod": "cart-7f9dd8b6c4-x7gr9", "node": "worker-1", "deployment": "cart",
        "job": "otel-collector"}
    # a Prometheus label already set stays; labels with no such attribute are left alone
    both = {"namespace": "shop", "k8s_namespace_name": "other", "service_name": "cart"}
    assert otel_labels(both) == {"namespace": "shop", "service_name": "cart"}
    plain = {"namespace": "shop", "service": "cart"}
    assert otel_labels(plain) is plain
    ix = Index.build(snapshot(series=[usage]))
    assert {place_of(ix, s) for s in ix.snapshot.series} == {("shop", "cart")}
    assert ix.role(ix.snapshot.series[0]) == "pod:cpu_usage:ratio"


def test_a_cloudwatch_exporters_dimensions_name_the_place() -> None:
    # YACE: an API Gateway in front of a Lambda function whose errors began first
    labels = {"__name__": "aws_lambda_errors_sum", "dimension_FunctionName": "resize",
              "name": "arn:aws:lambda:eu-west-1:123:function:resize"}
    assert cloudwatch_labels(labels) == {
        "__name__": "aws_lambda_errors_sum", "function_name": "resize",
        "name": "arn:aws:lambda:eu-west-1:123:function:resize"}
    assert cloudwatch_labels({"dimension_DBInstanceIdentifier": "orders-prod"}) == {
        "db_instance_identifier": "orders-prod"}
    plain = {"function_name": "resize"}
    assert cloudwatch_labels(plain) is plain
    api = {"dimension_ApiName": "shop-api", "dimension_Stage": "prod"}
    fn = {"dimension_FunctionName": "resize"}
    snap = snapshot(
        series=[series("aws_apigateway_5xxerror_average", stepped(0.0, 0.3, at=31), **api),
                series("aws_apigateway_latency_average", flat(80.0), **api),
                series("aws_lambda_errors_average", stepped(0.0, 0.35, at=30), **fn),
                series("aws_lambda_duration_average", flat(40.0), **fn)],
        alerts=[alert({"dimension_ApiName": "shop-api", "severity": "page"})],
        topology=[("shop-api", "resize")])
    ix = Index.build(snap)
    assert {place_of(ix, s) for s in ix.snapshot.series} == {("", "shop-api"), ("", "resize")}
    assert alert_entities(ix, snap.alerts) == [("", "shop-api")]
    top = diagnose_snapshot(snap).hypotheses[0]
    assert (top.service, top.fault) == ("resize", "application_error")


def test_a_series_with_no_labels_is_the_place_its_name_begins_with() -> None:
    # a metrics-only export whose columns name the service (`cartservice_cpu`), converted as
    # they were named: no label says which place a series is about
    snap = snapshot(
        series=[series("frontend_latency-90", stepped(0.2, 0.9, at=31)),
                series("frontend_cpu", flat(0.3)),
                series("cartservice_latency-90", stepped(0.05, 0.6, at=30)),
                series("cartservice_cpu", stepped(0.2, 0.97, at=30)),
                series("cartservice_mem", flat(0.4)),
                series("adservice_latency-90", flat(0.03)),
                series("adservice_cpu", flat(0.25), job="export", instance="host-1:9100"),
                series("checkout_total", flat(3.0), job="checkout")],  # no place it begins with
        alerts=[alert({"service": "frontend", "alertname": "HighLatency"})],
        topology=[("frontend", "cartservice"), ("frontend", "adservice")])
    ix = Index.build(snap)
    placed = {(s.name, place_of(ix, s)) for s in ix.snapshot.series}
    assert ("cpu", ("", "adservice")) in placed and ("latency-90", ("", "frontend")) in placed
    assert ("checkout_total", ("", "checkout")) in placed  # its job names it, as before
    top = diagnose_snapshot(snap).hypotheses[0]
    assert (top.service, top.fault) == ("cartservice", "cpu_saturation")


def test_a_disk_filling_on_a_node_read_from_node_exporter_without_rules() -> None:
    # the metrics sensor's node-exporter shares when no node:* rule answers (sensors/prometheus)
    worker = node("worker-1")
    worker["status"]["addresses"] = [{"type": "InternalIP", "address": "10.0.1.5"}]
    on = {"instance": "10.0.1.5:9100", "job": "node-exporter"}
    evidence = [series("node_filesystem_usage_ratio", stepped(0.5, 0.97), **on),
                series("node_cpu_usage_ratio", flat(0.3), **on),
                series("node_filesystem_usage_ratio", flat(0.5), instance="10.0.1.6:9100",
                       job="node-exporter")]
    report = diagnose_snapshot(snapshot(series=evidence, objects=[worker], alerts=[
        alert({"alertname": "NodeFilesystemAlmostFull", **on})]))
    top = report.hypotheses[0]
    assert (top.namespace, top.service, top.fault) == ("", "worker-1", "disk_pressure")


def test_span_metrics_are_about_their_service_not_the_collector_that_counted_them() -> None:
    # kube-prometheus scraping the collector: its own pod, namespace and Service beside
    calls = series("traces_span_metrics_calls_total", [5.0] * 5, service_name="cart",
                   span_kind="SPAN_KIND_SERVER", status_code="STATUS_CODE_UNSET",
                   k8s_namespace_name="shop", namespace="observability",
                   pod="otel-collector-6b7d9c-x2k4p", service="otel-collector",
                   job="otel-collector")
    ix = Index.build(snapshot(series=[calls]))
    assert {place_of(ix, s) for s in ix.snapshot.series} == {("shop", "cart")}
    # an alert on them, its rule keeping the span labels and the scrape's, is about the service
    failing = alert({"alertname": "SpanErrors", "service_name": "cart",
                     "span_kind": "SPAN_KIND_SERVER", "namespace": "observability",
                     "pod": "otel-collector-6b7d9c-x2k4p", "service": "otel-collector",
                     "job": "otel-collector"})
    assert alert_entities(ix, [failing]) == [("shop", "cart")]
    # an alert with no span label names its service as any alert does
    plain = alert({"alertname": "HighErrorRate", "service_name": "cart", "namespace": "shop",
                   "service": "cart-api"})
    assert alert_entities(ix, [plain]) == [("shop", "cart-api")]


def test_a_node_label_that_gives_an_address_names_the_node() -> None:
    # deploy/'s node rules copy a plain scrape's instance: the address, not the name
    worker = node("worker-1")
    worker["status"]["addresses"] = [{"type": "InternalIP", "address": "10.0.1.5"},
                                     {"type": "Hostname", "address": "worker-1"}]
    recorded = series("node:filesystem_usage:ratio", [0.5] * 5, node="10.0.1.5")
    named = series("node:cpu_usage:ratio", [0.3] * 5, node="worker-1")
    ix = Index.build(snapshot(series=[recorded, named], objects=[worker]))
    assert {place_of(ix, s) for s in ix.snapshot.series} == {("", "worker-1")}
    full = alert({"alertname": "NodeDiskFull", "node": "10.0.1.5:9100"})
    assert alert_entities(ix, [full]) == [("", "worker-1")]
    # without the Node object the address is all there is to name it by
    alone = Index.build(snapshot(series=[recorded]))
    assert place_of(alone, alone.snapshot.series[0]) == ("", "10.0.1.5")


def test_nginx_ingress_counts_give_the_backends_error_ratio() -> None:
    # as the metrics sensor asks for them: by backend and status, the scrape's own beside
    backend = {"exported_namespace": "shop", "exported_service": "cart", "ingress": "shop",
               "namespace": "ingress-nginx", "service": "ingress-nginx-controller-metrics"}
    evidence = [series("nginx_ingress_controller_requests", counter([10.0] * 40),
                       status="200", **backend),
                series("nginx_ingress_controller_requests", counter([0.0] * 30 + [5.0] * 10),
                       status="503", **backend)]
    report = diagnose_snapshot(snapshot(series=evidence, alerts=[
        alert({"alertname": "IngressBackendErrors", "namespace": "shop", "service": "cart"})]))
    top = report.hypotheses[0]
    assert (top.namespace, top.service, top.fault) == ("shop", "cart", "application_error")
    assert "nginx_ingress_controller_requests_error_ratio" in " ".join(top.evidence)

