"""The sandbox answers the sums the metrics sensor asks for without recording rules."""

from __future__ import annotations

import pytest

from warroom.sandbox.metrics import QueryError, SeriesStore


def _store() -> SeriesStore:
    store = SeriesStore()
    for when in (0.0, 60.0):
        for pod, route, value in (("cart-1", "/a", 1.0), ("cart-1", "/b", 2.0),
                                  ("cart-2", "/a", 4.0)):
            store.record(when, "http_requests_total",
                         {"namespace": "shop", "pod": pod, "route": route, "code": "200"},
                         value + when)
    return store


def test_sum_without_drops_the_labels_and_the_name() -> None:
    result = _store().query_range(
        'sum without (route) (http_requests_total{namespace="shop"})', 0, 60, 60)
    assert result == [
        {"metric": {"code": "200", "namespace": "shop", "pod": "cart-1"},
         "values": [[0, "3.0"], [60, "123.0"]]},
        {"metric": {"code": "200", "namespace": "shop", "pod": "cart-2"},
         "values": [[0, "4.0"], [60, "64.0"]]}]


def test_sum_by_keeps_only_the_labels() -> None:
    [item] = _store().query_range("sum by (namespace) (http_requests_total)", 0, 60, 60)
    assert item == {"metric": {"namespace": "shop"}, "values": [[0, "7.0"], [60, "187.0"]]}


def test_anything_else_is_still_refused() -> None:
    with pytest.raises(QueryError, match="only selectors"):
        _store().query_range("rate(http_requests_total[1m])", 0, 60, 60)
