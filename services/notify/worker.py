"""The notification worker: applies alert rules, raises alerts, routes and delivers them."""

from __future__ import annotations

import datetime as dt
import logging

from qc import events, logs, metrics, question_words
from qc.handler import Delivery, Handler
from qc.settings import TOPICS
from services.notify import metrics as notify_metrics
from services.notify.delivery.emails import Deliveries
from services.notify.delivery.webhooks import Webhooks
from services.notify.jobs import sending
from services.notify.jobs.schedule import Scheduler
from services.notify.jobs.sending import Sender
from services.notify.rules import alerts as alert_rules
from services.notify.rules import consent
from services.notify.stores import lifecycle
from services.notify.stores.actions import Actions
from services.notify.stores.alerts import AlertStore
from services.notify.stores.fix_feedback import FixFeedback
from services.notify.stores.knowledge import Knowledge
from services.notify.stores.reports import Reports
from services.notify.stores.silences import Silences

log = logging.getLogger(__name__)
# Worries from one checker at one site this close together are one alert (one round of e-mails).
WORRY_GROUP_MINUTES = 10
GROUP = "qc-notify"


class NotifyHandler(Handler):
    """Events become alerts; the directory tells us whom to tell; the schedule does the rest."""

    topics = [TOPICS[t] for t in ("validated", "rejected", "rollups", "directory", "feedback", "reports", "questions")]

    def __init__(
        self,
        rules,
        store: AlertStore,
        knowledge: Knowledge,
        deliveries: Deliveries,
        silences: Silences,
        publisher,
        webhooks: Webhooks | None = None,
        scheduler: Scheduler | None = None,
        feedback: FixFeedback | None = None,
        sender: Sender | None = None,
    ):
        self.rules = rules
        self.store = store
        self.knowledge = knowledge
        self.deliveries = deliveries
        self.silences = silences
        self.publisher = publisher
        self.webhooks = webhooks
        self.scheduler = scheduler
        self.feedback = feedback or FixFeedback(store.alerts.database)
        self.actions = Actions(store.alerts.database)  # "not better" answers about actions put them back
        self.reports = Reports(store.alerts.database)  # right-of-reply drafts, for the managers' home page
        self.questions = question_words.LearnedVersions(store.alerts.database, "notify")  # made with checkers
        # The worker sends from a thread of its own (sending.py); without one (tests), at the end of each batch.
        self.sender = sender
        # The period kinds a roll-up rule reads: a site has a roll-up per kind for every check, and
        # the others (most of them) need neither their score kept nor two database round trips.
        self.rollup_kinds = {rule.param("period_kind") for rule in alert_rules.rules_for(rules, "rollup")}
        self._batch: dict | None = None  # what ``handle`` keeps for the batch in hand

    def handle(self, batch: list[Delivery]) -> None:
        """Apply each event, then send what is due at once."""
        # Per batch rather than per alert: the silences in force (read once, when first needed), the
        # open alerts the batch's checks may join (one query), its new alerts (inserted together) and
        # the alerts routed (marked in one write at the end; a crash before it is repaired by ``tick``'s
        # sweep of unrouted alerts, whose deliveries are recorded once whatever happens).
        # Each validated check's rules are evaluated once: here, to read ahead, and kept for ``_validated``.
        evaluated = {
            d.event["id"]: alert_rules.evaluate(self.rules, d.event["data"])
            for d in batch
            if d.event["type"] == "org.qc.submission.validated"
        }
        candidates = [candidate for found in evaluated.values() for candidate in found]
        keys = {c.key for c in candidates}
        self._batch = {
            "silences": None,
            "routed": [],
            "open": self.store.open_by_key(keys),
            "read": keys,
            "evaluated": evaluated,
        }
        try:
            with self.store.held({c.alert_id for c in candidates}):
                # Deliveries are recorded before the alerts they belong to are stored as routed.
                with self.deliveries.held():
                    self._handle(batch)
                stored_routed = self.store.route_held(self._batch["routed"])
            self.store.mark_routed(*[i for i in self._batch["routed"] if i not in stored_routed])
        finally:
            self._batch = None
        if self.sender is None:
            self.send_due()

    def committed(self) -> None:
        """The batch's alert.raised events are out: send its e-mails and webhooks now."""
        if self.sender is not None:
            self.sender.wake()

    def close(self) -> None:
        if self.sender is not None:
            self.sender.stop()

    def _handle(self, batch: list[Delivery]) -> None:
        with self.knowledge.batch():
            self.knowledge.read_scores_ahead(
                [
                    d.event["data"]
                    for d in batch
                    if d.event["type"] == "org.qc.rollup.updated" and self._rule_reads(d.event["data"])
                ]
            )
            for delivery in batch:
                event = delivery.event
                kind = event["type"]
                with logs.correlation(event.get("correlationid")):
                    if kind == "org.qc.directory.changed":
                        self.knowledge.apply_directory(event["data"])
                    elif kind == "org.qc.submission.validated":
                        self._validated(event)
                    elif kind == "org.qc.rollup.updated":
                        self._rollup(event)
                    elif kind == "org.qc.submission.rejected":
                        self._rejected(event)
                    elif kind == "org.qc.fix.feedback":
                        self._feedback(event["data"])
                    elif kind == "org.qc.report.changed":
                        self.reports.apply(event["data"])
                    elif kind == "org.qc.questions.changed":
                        self.questions.apply(event["data"])

    def tick(self) -> None:
        """Route what had nobody to tell, run the schedule, send what is due."""
        for alert in self.store.unrouted():
            self.announce_and_route(alert, None)
        if self.scheduler:
            self.scheduler.run(self)
        if self.sender is None:
            self.send_due()
        else:
            self.sender.wake()

    def send_due(self) -> None:
        """Send every e-mail and webhook whose time has come."""
        sending.send_due(self.deliveries, self.webhooks, self.store.get_many)

    def _validated(self, event: dict) -> None:
        validated = event["data"]
        # A worry sent on its own is not a visit to check the site, nor is a voice (the key questions answered
        # through a site's own link): a voice raises only its worry, so a link on a board cannot flood the inbox.
        voice = validated.get("kind") == events.VOICE
        if not events.is_worry_alone(validated) and not voice:
            self.knowledge.note_visit(validated["site_id"], validated["visited_on"])
        evaluated = self._batch["evaluated"] if self._batch else {}
        found = evaluated[event["id"]] if event["id"] in evaluated else alert_rules.evaluate(self.rules, validated)
        for candidate in found:
            if voice and not candidate.rule.safeguarding:
                continue
            if candidate.rule.safeguarding:
                self.raise_worry(candidate, validated["urgent_concern"], event, validated["received_at"])
            else:
                self.raise_alert(candidate, {}, event.get("correlationid"), validated["received_at"])

    def _rule_reads(self, rollup: dict) -> bool:
        """A site roll-up of a period kind some roll-up rule reads (the rest need no work at all)."""
        return rollup["scope"] == "site" and rollup["period_kind"] in self.rollup_kinds

    def _rollup(self, event: dict) -> None:
        rollup = event["data"]
        if not self._rule_reads(rollup):
            return
        previous = self.knowledge.note_score(rollup)
        for candidate in alert_rules.evaluate_rollup(self.rules, rollup, previous):
            self.raise_alert(
                candidate, {"score": rollup["score"], "previous_score": previous}, event.get("correlationid")
            )

    def _rejected(self, event: dict) -> None:
        rejected = event["data"]
        for candidate in alert_rules.evaluate_rejected_worry(self.rules, rejected):
            self.raise_worry(candidate, rejected["urgent_concern"], event, rejected["received_at"])
        if rejected["checker_id"].startswith(f"{events.VOICE}:"):
            return  # a site's own link, not a checker who may need help
        self.knowledge.note_rejection(rejected)
        now = events.now()

        def count(days: int) -> int:
            return self.knowledge.rejections_since(rejected["checker_id"], days, now)

        for candidate in alert_rules.evaluate_rejections(self.rules, rejected, count):
            self.raise_alert(candidate, {}, event.get("correlationid"))

    def _feedback(self, feedback: dict) -> None:
        """Keep the answer for the board; "not better" reopens the alert and tells the managers again, or puts
        the action back on its managers' home page."""
        self.feedback.record(feedback)
        if feedback["answer"] != "no":
            return
        if "action_id" in feedback:
            if self.actions.mark_not_better(feedback["action_id"], events.parse_time(feedback["at"])):
                log.warning("action not better, says the checker", extra={"action_id": feedback["action_id"]})
            return
        alert = self.store.reopen(feedback["alert_id"], dt.datetime.fromisoformat(feedback["at"]))
        if alert is None:
            return  # not resolved, or resolved again after this answer: nothing to reopen
        log.warning("alert reopened by the checker", extra={"alert_id": alert["_id"]})
        people = self.knowledge.people(alert["notify"], alert)
        self.deliveries.plan(alert, people, purpose="reopened", occasion=feedback["at"])

    def raise_worry(self, candidate, text: str, event: dict, received_at: str) -> None:
        """A worry: its own alert, or (sent within WORRY_GROUP_MINUTES of a worry of the same checker at this
        site whose alert is still open) added to that alert, which was routed already: no second round of e-mails.

        By when the worries were sent, not when they are read: a backlog read at once is not grouped.
        """
        joined = self.store.join_recent_worry(candidate, text, received_at, WORRY_GROUP_MINUTES)
        if joined is not None:
            log.warning("worry added to the checker's open worry alert", extra={"alert_id": joined["_id"]})
            return
        details = {"urgent_concern": text, "received_at": received_at}
        if events.is_worry_alone(event["data"]):
            details["sent_alone"] = True  # the manager is told the check may still come, on its own
        self.raise_alert(candidate, details, event.get("correlationid"), received_at)

    def raise_alert(self, candidate, details: dict, correlation_id: str | None, received_at: str | None = None):
        """Open or join the alert for a candidate; announce and route a new one."""
        read_ahead = self._batch is not None and candidate.key in self._batch["read"]
        alert, is_new = self.store.raise_or_join(candidate, details, self._batch["open"] if read_ahead else None)
        if is_new:
            notify_metrics.ALERTS_RAISED.labels(alert["rule"], alert["severity"]).inc()
            if received_at:
                waited = (events.now() - dt.datetime.fromisoformat(received_at)).total_seconds()
                metrics.PIPELINE_LATENCY.labels("alert_raised").observe(max(waited, 0))
            log.info(
                "alert raised", extra={"alert_id": alert["_id"], "rule": alert["rule"], "site_id": alert["site_id"]}
            )
        opener = candidate.submission_id and alert["submission_ids"][:1] == [candidate.submission_id]
        if is_new or opener:
            # Both steps are idempotent, so a crash between them is repaired
            # on redelivery (the opener) or by the unrouted sweep on tick.
            self.announce_and_route(alert, correlation_id)
        return alert

    def announce_and_route(self, alert: dict, correlation_id: str | None) -> None:
        """Publish ``alert.raised`` and plan its deliveries (held back if silenced)."""
        names = consent.names_for(self.knowledge.contacts, [alert])
        self.publisher.send(TOPICS["alerts"], alert["key"], lifecycle.raised_event(alert, correlation_id, names))
        now = events.now()
        if self._batch is not None and self._batch["silences"] is None:
            self._batch["silences"] = self.silences.active(now)
        silence = self.silences.silencing(alert, now, self._batch["silences"] if self._batch else None)
        recipients = self.knowledge.people(alert["notify"], alert)
        self.deliveries.plan(alert, recipients, silenced=silence is not None)
        if self.webhooks:
            self.webhooks.plan(alert, silenced=silence is not None)
        if recipients:
            if self._batch is not None:
                self._batch["routed"].append(alert["_id"])
            else:
                self.store.mark_routed(alert["_id"])


if __name__ == "__main__":  # python -m services.notify.worker: the process, wired by bootstrap.py
    from services.notify import bootstrap

    bootstrap.run_worker()
