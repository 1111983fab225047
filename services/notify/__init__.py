"""notify: alert rules, alerts, their delivery, and managers' responses (wired in bootstrap.py)."""
