"""The notification worker: applies alert rules, raises alerts, sends and retries e-mail."""

from __future__ import annotations

import datetime as dt
import logging

from qc import events, logs, metrics, runner
from qc.consumer import Delivery, Handler
from qc.settings import TOPICS, Settings
from services.notify import metrics as notify_metrics
from services.notify import rules as alert_rules
from services.notify.delivery import Deliveries, Mailer
from services.notify.store import AlertStore

log = logging.getLogger(__name__)
GROUP = "qc-notify"


class NotifyHandler(Handler):
    """Validated submissions become alerts; the directory tells us whom to tell."""

    topics = [TOPICS["validated"], TOPICS["directory"]]

    def __init__(self, rules, store: AlertStore, deliveries: Deliveries, publisher):
        self.rules = rules
        self.store = store
        self.deliveries = deliveries
        self.publisher = publisher

    def handle(self, batch: list[Delivery]) -> None:
        """Raise or join alerts; plan an e-mail per recipient for each new one."""
        for delivery in batch:
            event = delivery.event
            if event["type"] == "org.qc.directory.changed":
                self._directory(event["data"])
            elif event["type"] == "org.qc.submission.validated":
                with logs.correlation(event.get("correlationid")):
                    self._evaluate(event)
        self.deliveries.send_due(self.store.get)

    def tick(self) -> None:
        """Route alerts that had nobody to tell yet; retry deliveries whose back-off has passed."""
        for alert in self.store.unrouted():
            self._route(alert)
        self.deliveries.send_due(self.store.get)

    def _route(self, alert: dict) -> None:
        """Plan deliveries; an alert whose recipients are not known yet (the directory
        may arrive after the submission) stays unrouted and is tried again on tick."""
        recipients = self.store.recipients(alert)
        self.deliveries.plan(alert, recipients)
        if recipients:
            self.store.mark_routed(alert["_id"])

    def _directory(self, data: dict) -> None:
        if data["entity"] == "person":
            self.store.save_contact(data)
        elif data["entity"] == "site":
            self.store.save_site(data)

    def _evaluate(self, event: dict) -> None:
        validated = event["data"]
        for candidate in alert_rules.evaluate(self.rules, validated):
            details = (
                {"urgent_concern": validated.get("urgent_concern")} if candidate.rule.kind == "urgent_concern" else {}
            )
            alert, is_new = self.store.raise_or_join(candidate, details)
            if is_new:
                notify_metrics.ALERTS_RAISED.labels(alert["rule"], alert["severity"]).inc()
                received = dt.datetime.fromisoformat(validated["received_at"])
                metrics.PIPELINE_LATENCY.labels("alert_raised").observe(
                    max((events.now() - received).total_seconds(), 0)
                )
                log.info(
                    "alert raised", extra={"alert_id": alert["_id"], "rule": alert["rule"], "site_id": alert["site_id"]}
                )
            if alert["submission_ids"][0] == candidate.submission_id:
                # The submission that opened the alert: (re)announce and (re)plan,
                # both idempotent, so a crash between steps is repaired on redelivery.
                self.publisher.send(TOPICS["alerts"], alert["key"], raised_event(alert, event.get("correlationid")))
                self._route(alert)


def raised_event(alert: dict, correlation_id: str | None) -> dict:
    """The public ``org.qc.alert.raised`` event."""
    data = {
        k: alert[k]
        for k in (
            "key",
            "rule",
            "severity",
            "site_id",
            "region_id",
            "period",
            "submission_ids",
            "question_ids",
            "summary",
        )
    }
    data.update(alert_id=alert["_id"], status="open", raised_at=events.isoformat(alert["raised_at"]))
    return events.make_event(
        "org.qc.alert.raised",
        source="qc/notify",
        subject=alert["_id"],
        data=data,
        correlation_id=correlation_id,
        event_id=f"{alert['_id']}:raised",
    )


def main() -> None:
    """Run the notification worker until SIGTERM; stops at once if the rules file is wrong."""

    def build(settings: Settings, db, publisher):
        rules = alert_rules.load_rules(settings.alert_rules_path)
        store = AlertStore(db)
        store.ensure_indexes()
        mailer = Mailer(settings.smtp_url, settings.mail_from, settings.smtp_timeout_seconds)
        return NotifyHandler(rules, store, Deliveries(db, mailer, settings.notify_public_url), publisher)

    runner.run_worker("notify", GROUP, build)


if __name__ == "__main__":
    main()
