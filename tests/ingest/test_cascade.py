"""The service dependency graph cascades are grouped by."""

from __future__ import annotations

from warroom.config import Settings
from warroom.ingest.cascade import ServiceGraph, service_graph

EDGES = [("frontend", "checkout"), ("checkout", "orders"), ("orders", "orders-db"),
         ("catalog", "orders-db"), ("frontend", "search")]


def test_services_are_connected_through_a_common_dependency() -> None:
    graph = ServiceGraph(EDGES)
    assert graph.connected("orders-db") == {"orders-db", "orders", "catalog", "checkout",
                                            "frontend"}
    assert "catalog" in graph.connected("orders")  # both call orders-db
    # search depends on nothing orders-db's callers need, nor they on it
    assert "search" not in graph.connected("orders-db")
    assert graph.connected("unknown") == frozenset()


def test_the_root_candidate_is_the_deepest_common_dependency() -> None:
    graph = ServiceGraph(EDGES)
    assert graph.root("orders", "checkout") == "orders"
    assert graph.root("checkout", "orders") == "orders"
    assert graph.root("catalog", "orders") == "orders-db"  # silent itself, but both need it
    assert graph.root("search", "orders-db") is None


def test_the_deeper_service_is_the_one_the_other_depends_on() -> None:
    graph = ServiceGraph(EDGES)
    assert graph.deeper("orders-db", than="frontend")
    assert not graph.deeper("frontend", than="orders-db")
    assert not graph.deeper("search", than="orders-db")


def test_the_graph_is_empty_without_a_map_or_when_turned_off(settings: Settings) -> None:
    assert not service_graph(settings)
    mapped = settings.model_copy(update={"service_map": {"orders": ["orders-db"]}})
    assert service_graph(mapped).deeper("orders-db", than="orders")
    off = mapped.model_copy(update={"cascade_grouping": False})
    assert not service_graph(off)
