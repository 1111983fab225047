"""The checks worker: validates received submissions, records managers' responses."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import zoneinfo

from qc import events, logs, metrics, sharing
from qc.handler import Delivery, Handler
from qc.settings import TOPICS, Settings
from services.checks import metrics as checks_metrics
from services.checks.jobs.outbox_watch import OutboxWatch
from services.checks.rules import action_news
from services.checks.rules.validation import Decision, decide
from services.checks.stores.directory import Directory, HeldDirectory
from services.checks.stores.question_sets import QuestionSets
from services.checks.stores.question_versions import QuestionVersions
from services.checks.stores.submissions import Submissions

log = logging.getLogger(__name__)
GROUP = "qc-checks"


@dataclasses.dataclass
class _Lookups:
    """The directory as the validator reads it for one batch: sites and checkers by id."""

    sites: dict[str, dict]
    people: dict[str, dict]


class ChecksHandler(Handler):
    """Decides each received submission once and publishes the decision (again on redelivery)."""

    topics = [TOPICS["received"], TOPICS["alerts"], TOPICS["actions"]]

    def __init__(self, settings: Settings, db, publisher):
        self.settings = settings
        self.directory = HeldDirectory(Directory(db))
        self.submissions = Submissions(db, themes_path=settings.themes_path, text_secret=settings.secret_key)
        self.question_sets = QuestionSets.load(settings.schemas_dir, QuestionVersions(db))
        self.publisher = publisher
        self.tz = zoneinfo.ZoneInfo(settings.timezone)
        # Publishes again what a broker that lost its log lost (outbox.py); started by main, on its own thread.
        self.outbox_watch = OutboxWatch(settings, db)

    def close(self) -> None:
        """Worker exit."""
        self.outbox_watch.close()

    def handle(self, batch: list[Delivery]) -> None:
        """Route each event by type; a poll's received submissions are looked up, decided and stored together."""
        received = [d.event for d in batch if d.event["type"] == "org.qc.submission.received"]
        if received:
            self._validate_all(received)
        for delivery in batch:
            event = delivery.event
            if event["type"] in ("org.qc.alert.acknowledged", "org.qc.alert.resolved"):
                with logs.correlation(event.get("correlationid")):
                    self._record_response(event)
            elif event["type"] == "org.qc.action.changed":
                told = action_news.record(self.directory.directory, self.submissions, event["data"])
                log.info("action put on checks", extra={"action_id": event["data"]["action_id"], "checks": told})

    def _look_up(self, received: list[dict]) -> _Lookups:
        """The sites and checkers of a batch, held in memory (read only when new, or the directory changed)."""
        sites, people = self.directory.look_up({r["site_id"] for r in received}, {r["checker_id"] for r in received})
        return _Lookups(sites=sites, people=people)

    def _validate_all(self, received_events: list[dict]) -> None:
        """Decide a poll's submissions with a few round trips per poll rather than two per event.

        The database is the pipeline's bottleneck (docs/benchmarks.md): the
        directory is read in two queries, earlier decisions (redeliveries) in
        one, and the new decisions are written in one unordered bulk write.
        Possible duplicates come from one query by content hash (indexed);
        duplicates within the poll are caught from the decisions made here.
        """
        lookups = self._look_up([e["data"] for e in received_events])
        # The first decision stands: a redelivery re-publishes it unchanged.
        stored = self.submissions.records(sorted({e["data"]["submission_id"] for e in received_events}))
        records = {i: record for i, record in stored.items() if "decided_at" in record}
        fresh: dict[str, tuple[dict, Decision]] = {}
        undecided = [e["data"]["content_hash"] for e in received_events if e["data"]["submission_id"] not in records]
        # Validated earlier, by the duplicate rule's key; this poll's decisions are added as they are made.
        validated = self.submissions.validated_with_content(undecided)
        for event in received_events:
            received = event["data"]
            if received["submission_id"] not in records and received["submission_id"] not in fresh:
                fresh[received["submission_id"]] = (received, self._decide(received, lookups, validated))
        if fresh:
            records.update(
                self.submissions.record_decisions(
                    [(r, d.status, d.reasons, d.region_id) for r, d in fresh.values()], stored=set(stored)
                )
            )
        for event in received_events:
            submission_id = event["data"]["submission_id"]
            with logs.correlation(event.get("correlationid")):
                self._publish(event, records[submission_id], fresh.get(submission_id, (None, None))[1])

    def _decide(self, received: dict, lookups: _Lookups, validated: dict[tuple, list[str]]) -> Decision:
        ref = received["question_set"]
        same = (received["checker_id"], received["site_id"], received["visited_on"], received["content_hash"])
        others = [i for i in validated.get(same, ()) if i != received["submission_id"]]
        # Two people at a site may well give the same answers on the same day: voices are never duplicates.
        duplicate_of = others[0] if others and received.get("kind") != events.VOICE else None
        decision = decide(
            received,
            site=lookups.sites.get(received["site_id"]),
            checker=lookups.people.get(received["checker_id"]),
            question_set=self.question_sets.get(ref["id"], ref["version"]),
            duplicate_of=duplicate_of,
            today=dt.datetime.now(self.tz).date(),
            window_days=self.settings.visit_window_days,
        )
        if decision.status == "validated":
            validated.setdefault(same, []).append(received["submission_id"])
        return decision

    def _publish(self, event: dict, record: dict, decision: Decision | None) -> None:
        """Send the stored decision; ``decision`` is this poll's, None when an earlier one stands."""
        received = event["data"]
        decision_status, reasons = record["status"], record["reasons"]
        if decision_status == "validated":
            fresh = decision is not None and decision.status == "validated"
            data = decision.validated if fresh else self._revalidated(received, record)
            data["validated_at"] = events.isoformat(record["decided_at"])
            topic, event_type = TOPICS["validated"], "org.qc.submission.validated"
        else:
            data = {
                "submission_id": received["submission_id"],
                "checker_id": received["checker_id"],
                "site_id": received["site_id"],
                "region_id": record.get("region_id"),
                "received_at": received["received_at"],
                "rejected_at": events.isoformat(record["decided_at"]),
                "reasons": reasons,
                # Not for a duplicate: the same worry came with the check it repeats, and was raised then.
                **({} if any(r["code"] == "duplicate" for r in reasons) else _worry(received)),
            }
            topic, event_type = TOPICS["rejected"], "org.qc.submission.rejected"
        out = events.make_event(
            event_type,
            source="qc/checks/validator",
            subject=received["submission_id"],
            data=data,
            correlation_id=event.get("correlationid"),
            event_id=f"{received['submission_id']}:{decision_status}",
        )
        self.publisher.send(topic, received["site_id"], out)
        checks_metrics.SUBMISSIONS.labels(decision_status).inc()
        received_at = dt.datetime.fromisoformat(received["received_at"])
        metrics.PIPELINE_LATENCY.labels("validated").observe(max((events.now() - received_at).total_seconds(), 0))
        log.info("submission decided", extra={"submission_id": received["submission_id"], "status": decision_status})

    def _revalidated(self, received: dict, record: dict) -> dict:
        """Rebuild the validated payload of an earlier decision (rules may have changed since)."""
        ref = received["question_set"]
        qs = self.question_sets.get(ref["id"], ref["version"]) or {"questions": []}
        safety = {q["id"]: bool(q.get("safety")) for q in qs["questions"]}
        data = dict(sharing.with_defaults(received), region_id=record["region_id"])
        data["answers"] = [{**a, "safety": safety.get(a["question_id"], False)} for a in data["answers"]]
        return data

    def _record_response(self, event: dict) -> None:
        data = event["data"]
        response = {
            "alert_id": data["alert_id"],
            "status": "resolved" if event["type"].endswith("resolved") else "acknowledged",
            "response": data.get("response"),
            "at": data["at"],
        }
        self.submissions.add_response(data["submission_ids"], response)


def _worry(received: dict) -> dict:
    """A worry in a rejected check, to travel with the rejection: notify raises its alert all the same."""
    worry = received.get("urgent_concern")
    if not isinstance(worry, str) or not worry.strip():
        return {}
    out = {"urgent_concern": worry[:2000]}
    out["urgent_concern_share"] = sharing.share_of(received.get("urgent_concern_share"))
    out["answered_by"] = sharing.answered_by_of(received.get("answered_by"))
    if events.is_worry_alone(received):
        out["kind"] = events.WORRY_ALONE  # the inbox says it came on its own
    elif received.get("kind") == events.VOICE:
        out["kind"] = events.VOICE  # the inbox says it came through the site's own link
    return out


if __name__ == "__main__":  # python -m services.checks.worker: the process, wired by bootstrap.py
    from services.checks import bootstrap

    bootstrap.run_worker()
