"""Fixtures of the CLI tests: a trial setup in a temp folder (see ``clitrial``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from clitrial import Trial


@pytest.fixture
def trial(tmp_path: Path) -> Trial:
    """A config with the memory sides and two staff members (JD, AB) on an empty business side."""
    setup = Trial(tmp_path)
    setup.start()
    return setup
