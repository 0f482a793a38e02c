"""warroom watching itself: Prometheus metrics, OpenTelemetry traces, structured logs."""
