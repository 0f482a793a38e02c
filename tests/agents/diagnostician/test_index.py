"""The evidence index: pod -> workload, PVC -> StatefulSet, topology names -> places."""

from __future__ import annotations

from warroom.agents.diagnostician.anomaly import place_of
from warroom.agents.diagnostician.index import Index, exporters_labels, repair
from warroom.agents.diagnostician.topology import alert_entities

from .diag_builders import alert, deployment, node, pod, series, snapshot, statefulset


def test_pods_map_to_their_owning_workload() -> None:
    objects = [*deployment("shop", "checkout", rs="7f9dd8b6c4"), statefulset("data", "pg"),
               pod("shop", "checkout-7f9dd8b6c4-x7gr9", ("ReplicaSet", "checkout-7f9dd8b6c4")),
               pod("data", "pg-0", ("StatefulSet", "pg"))]
    ix = Index.build(snapshot(objects=objects))
    assert ix.owner_of_pod("shop", "checkout-7f9dd8b6c4-x7gr9") == ("shop", "checkout")
    assert ix.owner_of_pod("data", "pg-0") == ("data", "pg")
    # pods that are only named (in logs or series) resolve by their name's shape
    assert ix.owner_of_pod("shop", "checkout-7f9dd8b6c4-zzzzz") == ("shop", "checkout")
    assert ix.owner_of_pod("web", "frontend-5d8c7b9f6a-abcde") == ("web", "frontend")


def test_an_orphan_replicaset_still_names_the_deployment() -> None:
    p = pod("shop", "cart-6b7c8d9e0f-aaaaa", ("ReplicaSet", "cart-6b7c8d9e0f"))
    assert Index.build(snapshot(objects=[p])).owner_of_pod(
        "shop", "cart-6b7c8d9e0f-aaaaa") == ("shop", "cart")


def test_pvc_belongs_to_its_statefulset_and_names_resolve_to_places() -> None:
    ix = Index.build(snapshot(
        objects=[statefulset("data", "orders-db"), *deployment("shop", "orders")],
        series=[series("db:connections:ratio", [0.1] * 10, namespace="data",
                       service="orders-db")],
        topology=[("orders", "orders-db"), ("orders", "api.stripe.com")]))
    assert ix.pvc_owner("data", "data-orders-db-0") == ("data", "orders-db")
    assert ix.entity("orders-db", "shop") == ("data", "orders-db")
    assert ix.entity("api.stripe.com", "shop") == ("", "api.stripe.com")
    assert ix.is_database(("data", "orders-db")) and not ix.is_database(("shop", "orders"))


def test_labels_and_annotations_stay_strings_whatever_their_keys() -> None:
    raw = {"kind": "Deployment", "spec": {"replicas": "3"}, "metadata": {
        "name": "api", "namespace": "shop", "labels": {"count": "3", "name": "api", "tier": 2},
        "annotations": {"replicas": "5", "note": None}}}
    fixed = repair(raw)
    assert fixed["spec"]["replicas"] == 3  # the object's own field is read as what it is
    assert fixed["metadata"]["labels"] == {"count": "3", "name": "api", "tier": "2"}
    assert fixed["metadata"]["annotations"] == {"replicas": "5", "note": ""}


def test_a_name_given_without_a_namespace_is_the_one_place_of_that_name() -> None:
    # a service graph names callees without a namespace; the pods' series of the same
    # workload (no objects at all) and another service's own series give theirs
    cpu = series("pod:cpu_usage:ratio", [0.2] * 5, namespace="trains",
                 pod="ts-train-7f9dd8b6c4-x7gr9")
    graph = series("traces_service_graph_request_server_seconds_p99", [0.01] * 5,
                   client="ts-gateway", server="ts-train")
    known = series("service:requests:rate1m", [5.0] * 5, namespace="trains", service="ts-food")
    unplaced = series("service:requests:rate1m", [5.0] * 5, namespace="", service="ts-food")
    ix = Index.build(snapshot(series=[cpu, graph, known, unplaced]))
    assert place_of(ix, cpu) == ("trains", "ts-train")
    at_callee = next(s for s in ix.snapshot.series if s.name == graph.name)
    assert at_callee.metric["service"] == "ts-train"
    assert place_of(ix, at_callee) == ("trains", "ts-train")
    assert place_of(ix, unplaced) == ("trains", "ts-food")
    assert ix.entity("ts-food") == ("trains", "ts-food")
    # in two namespaces, a name without one stays unplaced rather than guessed
    twice = series("service:requests:rate1m", [5.0] * 5, namespace="other", service="ts-food")
    ix = Index.build(snapshot(series=[known, twice, unplaced]))
    assert place_of(ix, unplaced) == ("", "ts-food")
    # a scrape target's host is never moved into a namespace
    host = series("node_load1", [1.0] * 5, instance="ts-food:9100")
    assert place_of(Index.build(snapshot(series=[known, host])), host) == ("", "ts-food")


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
