"""The evidence index: pod -> workload, PVC -> StatefulSet, topology names -> places."""

from __future__ import annotations

from warroom.agents.diagnostician.anomaly import place_of
from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.topology import alert_entities
from warroom.sensors.models import Series

from .diag_builders import alert, deployment, pod, series, snapshot, statefulset


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
    # a name of no standard shape: the container it runs names the workload the pod starts with
    assert ix.owner_of_pod("pay", "payments-api-canary-7c-001", "payments-api") == (
        "pay", "payments-api")
    assert ix.owner_of_pod("pay", "payments-api-canary-7c-001") == ("pay", "payments-api-canary-7c")
    # a standard hash suffix still wins over a container named otherwise
    assert ix.owner_of_pod("shop", "cart-worker-7f9dd8b6c4-abcde", "cart") == (
        "shop", "cart-worker")


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


def test_a_service_named_otherwise_than_its_workload_is_that_workload() -> None:
    coredns = pod("kube-system", "coredns-5d78c9869d-x7gr9", ("ReplicaSet", "coredns-5d78c9869d"))
    coredns["metadata"]["labels"] = {"k8s-app": "kube-dns", "pod-template-hash": "5d78c9869d"}
    kube_dns = {"kind": "Service", "metadata": {"name": "kube-dns", "namespace": "kube-system"},
                "spec": {"selector": {"k8s-app": "kube-dns"}}}
    # a selector that picks nothing, and a Service named as its workload, map nothing
    idle = {"kind": "Service", "metadata": {"name": "idle", "namespace": "kube-system"},
            "spec": {"selector": {"app": "idle"}}}
    same = {"kind": "Service", "metadata": {"name": "coredns", "namespace": "kube-system"},
            "spec": {"selector": {"k8s-app": "kube-dns"}}}
    requests = series("coredns_dns_requests_total", [5.0] * 5, namespace="kube-system",
                      service="kube-dns")
    ix = Index.build(snapshot(objects=[*deployment("kube-system", "coredns", rs="5d78c9869d"),
                                       coredns, kube_dns, idle, same], series=[requests]))
    assert ix.service_workload == {("kube-system", "kube-dns"): "coredns"}
    assert place_of(ix, requests) == ("kube-system", "coredns")
    assert ix.entity("kube-dns") == ("kube-system", "coredns")
    down = alert({"alertname": "CoreDNSDown", "namespace": "kube-system", "service": "kube-dns"})
    assert alert_entities(ix, [down]) == [("kube-system", "coredns")]


def test_a_container_outside_kubernetes_is_placed_by_its_compose_service_or_name() -> None:
    # cAdvisor on a Docker host: the container's id, image and name, and its Compose labels
    cadvisor = Series(metric={
        "__name__": "container_cpu_usage_seconds_total", "id": "/docker/4f1c0a9e2b7d",
        "image": "weaveworksdemos/carts:0.4.8", "name": "sockshop-carts-1",
        "container_label_com_docker_compose_service": "carts"},
        values=series("x", [1.0] * 5).values)
    # OpenTelemetry's docker_stats receiver
    stats = series("container_cpu_utilization", [0.2] * 5, container_hostname="4f1c0a9e2b7d",
                   container_id="4f1c0a9e2b7d", container_name="carts")
    ix = Index.build(snapshot(series=[cadvisor, stats]))
    assert place_of(ix, cadvisor) == ("", "carts")
    assert place_of(ix, stats) == ("", "carts")
