"""Whether this run is CI, where every service the suite needs must be reached (never skipped).

A module of its own, importable as `ci_env` from any test folder: importing `conftest` by name
would get whichever conftest pytest loaded first.
"""

import os

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
