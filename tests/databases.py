"""Which database the suite runs on, for conftest and test modules alike.

A plain module, because a conftest is not one to import from: every folder's
conftest is a module named ``conftest``, so ``from conftest import ...`` finds
whichever of them pytest happened to import first.
"""

from __future__ import annotations

# Names a PostgreSQL server to run the suite on; unset, the suite runs on SQLite.
PG_URL_VAR = "OCPP_CORE_TEST_DATABASE_URL"

# The Redis the cluster tests run their nodes on (each test under a key prefix of its
# own); unreachable, those tests fail: CI starts Redis beside PostgreSQL (.ci/run).
REDIS_URL_VAR = "OCPP_CORE_TEST_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
