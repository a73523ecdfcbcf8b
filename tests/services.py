"""What tests do when a server they need (PostgreSQL, MariaDB, …) is not there."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def need_service(name: str, reason: str) -> NoReturn:
    """Skip the test because ``name`` is missing; in CI (``CI=true``) fail instead, since there a
    missing server means the pipeline is broken, and a skip would hide it."""
    message = f"{name} is not available: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
