"""Metrics owned by checks."""

from prometheus_client import Counter

from qc import metrics

# Every outcome the code counts: at intake (web) and at the validator (worker).
INTAKE_OUTCOMES = ("accepted", "repeat", "invalid", "unauthorised", "forbidden", "conflict", "unavailable")
VALIDATOR_OUTCOMES = ("validated", "rejected")

SUBMISSIONS = Counter(
    "qc_submissions_total",
    "Submissions by outcome (accepted, repeat, invalid, unauthorised, forbidden, conflict, "
    "unavailable at intake; validated, rejected at the validator)",
    ["outcome"],
)


def initialise() -> None:
    """Create every outcome's series at zero, so ``increase()`` sees the first of each.

    The web and the worker of checks share one multiprocess directory, so
    either one creating them makes them show on the service's /metrics.
    """
    for outcome in INTAKE_OUTCOMES + VALIDATOR_OUTCOMES:
        SUBMISSIONS.labels(outcome)
    metrics.initialise_latency("validated")
