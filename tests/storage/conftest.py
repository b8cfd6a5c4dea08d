"""Fixtures for the storage tests: the migrated database comes from tests/conftest.py; the clock below
stands in for the `time` module a repository reads (tests/support/clock.py)."""

from __future__ import annotations

from tests.support.clock import FakeClock

__all__ = ["FakeClock"]
