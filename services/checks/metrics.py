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

# The outbox (outbox.py): ops want to know when the broker lost events, and how many checks were sent again.
BROKER_LOG_LOST = Counter(
    "qc_broker_log_losses_total", "Times the broker's log was found to have gone back (events lost by the broker)"
)
OUTBOX_REPUBLISHED = Counter(
    "qc_outbox_republished_total", "Checks published again from the intake's outbox after the broker lost events"
)


def initialise() -> None:
    """Create every outcome's series at zero, so ``increase()`` sees the first of each.

    The web and the worker of checks share one multiprocess directory, so
    either one creating them makes them show on the service's /metrics.
    """
    for outcome in INTAKE_OUTCOMES + VALIDATOR_OUTCOMES:
        SUBMISSIONS.labels(outcome)
    metrics.initialise_latency("validated")
