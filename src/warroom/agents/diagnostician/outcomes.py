"""What a request's status label says: a server-side failure, a success, or no status at all.

Any library's, mesh's or proxy's spelling: HTTP codes, gRPC codes by name or number, Envoy's
response code classes, OpenTelemetry's span statuses, words (`failure`, `SERVER_ERROR`). A 4xx
is the caller's mistake, not the server's failure. `families.py` splits counters by it.
"""

from __future__ import annotations

import re

# gRPC codes that are the server's failure (Unknown, DeadlineExceeded, ResourceExhausted,
# Unimplemented, Internal, Unavailable, DataLoss), by name and by number
_GRPC_FAILED = {"unknown", "deadlineexceeded", "resourceexhausted", "unimplemented",
                "internal", "unavailable", "dataloss"}
_GRPC_FAILED_NUMBERS = {2, 4, 8, 12, 13, 14, 15}
_GRPC_OK = {"ok", "canceled", "cancelled", "invalidargument", "notfound", "alreadyexists",
            "permissiondenied", "failedprecondition", "aborted", "outofrange",
            "unauthenticated"}
_FAILED_WORDS = re.compile(r"error|fail|exception|fault|timeout|server_?error|5xx", re.I)
_OK_WORDS = re.compile(r"^(ok|success|succeeded|successful|client_?error|[1-4]xx|redirection|"
                       r"informational|unset)$", re.I)
# OpenTelemetry's span status as its span metrics name it: STATUS_CODE_ERROR, _OK and _UNSET
# (a span nobody marked, the usual success)
_OTEL_STATUS = re.compile(r"^status_code_", re.I)


def failed_status(label: str, value: str) -> bool | None:
    """Tell whether a status value is a server-side failure; None when it is no status."""
    v = _OTEL_STATUS.sub("", value.strip())
    if v.isdigit():
        n = int(v)
        if label.endswith("_class") and n <= 9:  # Envoy's `envoy_response_code_class="5"`
            return n >= 5 if n >= 1 else None
        if "rpc" in label and n <= 16:
            return n in _GRPC_FAILED_NUMBERS
        return n >= 500 if 100 <= n <= 599 else None
    word = v.replace("_", "").lower()
    if "rpc" in label or label == "code":  # gRPC's names of its codes
        if word in _GRPC_FAILED:
            return True
        if word in _GRPC_OK:
            return False
    if _OK_WORDS.match(v):
        return False
    if re.fullmatch(r"5\d\d|5xx", v, re.I) or _FAILED_WORDS.search(v):
        return True
    return None
