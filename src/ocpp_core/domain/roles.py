"""What an operator may do: the vocabulary of roles, apart from the accounts.

It stands alone so the command line can offer the roles as choices without
loading the database layer that ``ocpp_core.domain.users`` needs.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"
