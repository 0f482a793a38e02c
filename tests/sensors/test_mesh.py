from __future__ import annotations

from warroom.sensors.mesh import Call, at_callee, call_of, calls
from warroom.sensors.models import Series

ISTIO = {"__name__": "istio_requests_total", "reporter": "destination",
         "source_workload": "frontend", "source_workload_namespace": "web",
         "destination_workload": "checkout", "destination_workload_namespace": "shop",
         "destination_service_name": "checkout", "response_code": "503",
         "response_flags": "-", "connection_security_policy": "mutual_tls",
         "pod": "checkout-7d9f8b6c5d-x2x9q", "namespace": "shop"}


def series(labels: dict[str, str]) -> Series:
    return Series(metric=labels, values=[(0.0, "1"), (60.0, "2")])


def test_istio_names_both_sides_of_a_call() -> None:
    assert call_of(ISTIO) == Call("frontend", "web", "checkout", "shop")
    # traffic from outside the mesh names only its callee
    ingress = {**ISTIO, "source_workload": "unknown"}
    assert call_of(ingress) == Call("", "web", "checkout", "shop")
    # a host outside the mesh: no workload, its service name
    egress = {**ISTIO, "reporter": "source", "destination_workload": "unknown",
              "destination_workload_namespace": "unknown",
              "destination_service_name": "api.stripe.com"}
    assert call_of(egress) == Call("frontend", "web", "api.stripe.com", "")


def test_an_in_cluster_host_name_gives_its_namespace() -> None:
    labels = {"source_app": "frontend", "destination_app": "unknown",
              "destination_service_name": "reviews.books.svc.cluster.local"}
    assert call_of(labels) == Call("frontend", "", "reviews", "books")


def test_linkerd_outbound_and_service_graphs() -> None:
    outbound = {"__name__": "response_total", "direction": "outbound", "deployment": "web",
                "namespace": "shop", "dst_deployment": "books", "dst_namespace": "lib",
                "classification": "failure", "status_code": "500"}
    assert call_of(outbound) == Call("web", "shop", "books", "lib")
    # an inbound series is the server's own: no call
    assert call_of({"__name__": "response_total", "direction": "inbound",
                    "deployment": "books", "namespace": "lib"}) is None
    graph = {"__name__": "traces_service_graph_request_total", "client": "web",
             "server": "books"}
    assert call_of(graph) == Call("web", "", "books", "")


def test_a_server_label_alone_is_no_call() -> None:
    assert call_of({"__name__": "nginx_requests_total", "server": "edge-1"}) is None
    assert call_of({"__name__": "kube_deployment_status_replicas",
                    "deployment": "web", "namespace": "shop"}) is None


def test_calls_are_the_distinct_edges_with_a_caller() -> None:
    found = calls([series(ISTIO), series({**ISTIO, "response_code": "200"}),
                   series({**ISTIO, "source_workload": "unknown"}),
                   series({"__name__": "up", "job": "checkout"})])
    assert found == [("frontend", "checkout")]


def test_a_calls_series_becomes_its_callees() -> None:
    plain = series({"__name__": "up", "job": "checkout"})
    out = at_callee([series(ISTIO), plain])
    assert out[0].metric == {"__name__": "istio_requests_total", "reporter": "destination",
                             "response_code": "503", "service": "checkout",
                             "namespace": "shop", "caller": "frontend"}
    assert out[0].values == series(ISTIO).values
    assert out[1] is plain
    # of two status labels one is kept, so a status does not split a family twice
    linkerd = at_callee([series({"__name__": "response_total", "direction": "outbound",
                                 "deployment": "web", "dst_deployment": "books",
                                 "classification": "failure", "status_code": "500"})])
    assert linkerd[0].metric["status_code"] == "500" and "classification" not in linkerd[0].metric
    untouched = [plain]
    assert at_callee(untouched) is untouched


def test_a_grpc_calls_outcome_is_its_grpc_status_not_the_http_200() -> None:
    grpc = at_callee([series({**ISTIO, "response_code": "200", "grpc_response_status": "14"}),
                      series({**ISTIO, "response_code": "200", "grpc_response_status": ""})])
    assert grpc[0].metric["grpc_response_status"] == "14" and "response_code" not in grpc[0].metric
    # a plain HTTP call carries an empty gRPC status: its HTTP code is the outcome
    assert grpc[1].metric["response_code"] == "200"
    assert "grpc_response_status" not in grpc[1].metric
