"""Kubernetes resource quantities ("500m", "2", "512Mi", "1G") as numbers."""

from __future__ import annotations

import re

QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")
# bytes per unit of a memory quantity (no unit: bytes)
BYTES: dict[str | None, float] = {None: 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
                                  "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}


def amount(quantity: object, resource: str) -> float | None:
    """Return a quantity in cores (`resource` "cpu") or bytes (anything else); None when it is
    no quantity of that resource."""
    match = QUANTITY.match(str(quantity).strip())
    if not match:
        return None
    number, unit = float(match.group(1)), match.group(2)
    if resource == "cpu":
        return number / 1000 if unit == "m" else number if unit is None else None
    return None if unit == "m" else number * BYTES[unit]
