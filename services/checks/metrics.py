"""Metrics owned by checks."""

from prometheus_client import Counter

SUBMISSIONS = Counter(
    "qc_submissions_total",
    "Submissions by outcome (accepted, repeat, invalid, unauthorised, forbidden, conflict, "
    "unavailable at intake; validated, rejected at the validator)",
    ["outcome"],
)
