"""Metrics owned by notify."""

from collections.abc import Iterable

from prometheus_client import Counter

from qc import metrics

CHANNELS = ("email", "webhook", "digest", "reminder")
OUTCOMES = ("sent", "failed", "no_recipient", "silenced")

ALERTS_RAISED = Counter("qc_alerts_raised_total", "New alerts raised", ["rule", "severity"])
NOTIFICATIONS = Counter(
    "qc_notifications_total",
    "Notification delivery attempts by channel and outcome (sent, failed, no_recipient, silenced)",
    ["channel", "outcome"],
)


def initialise(rules: Iterable) -> None:
    """Create the series ops alert on at zero: each rule's alerts, each channel's outcomes."""
    for rule in rules:
        ALERTS_RAISED.labels(rule.id, rule.severity)
    for channel in CHANNELS:
        for outcome in OUTCOMES:
            NOTIFICATIONS.labels(channel, outcome)
    metrics.initialise_latency("alert_raised")
