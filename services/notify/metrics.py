"""Metrics owned by notify."""

from prometheus_client import Counter

ALERTS_RAISED = Counter("qc_alerts_raised_total", "New alerts raised", ["rule", "severity"])
NOTIFICATIONS = Counter(
    "qc_notifications_total",
    "Notification delivery attempts by channel and outcome (sent, failed, no_recipient)",
    ["channel", "outcome"],
)
