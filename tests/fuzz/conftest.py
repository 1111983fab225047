"""The fuzz run's figures (requests fuzzed / 5xx), printed at the end of every pytest run that includes it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

FIGURES = pytest.StashKey[dict]()

# "ci" (the default) is derandomised, so a run is repeatable and cannot fail by chance; use
# `pytest tests/fuzz --hypothesis-profile=explore` to look further with fresh random inputs.
_COMMON = dict(
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile("ci", derandomize=True, **_COMMON)
settings.register_profile("explore", derandomize=False, **_COMMON)


def pytest_configure(config):
    if not config.getoption("hypothesis_profile", None):
        settings.load_profile("ci")


@pytest.fixture(scope="session")
def fuzz_figures(request) -> dict:
    """{service: {"requests": n, "5xx": n, "statuses": Counter}}, shown in the terminal summary."""
    figures: dict = {}
    request.config.stash[FIGURES] = figures
    return figures


def pytest_terminal_summary(terminalreporter, config):
    figures = config.stash.get(FIGURES, None)
    if not figures:
        return
    terminalreporter.section("fuzz figures")
    total = sum(f["requests"] for f in figures.values())
    errors = sum(f["5xx"] for f in figures.values())
    for service, f in sorted(figures.items()):
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(f["statuses"].items()))
        terminalreporter.write_line(f"{service}: {f['requests']} requests fuzzed, {f['5xx']} 5xx ({statuses})")
    terminalreporter.write_line(f"fuzz: requests fuzzed {total} / 5xx {errors}")
