"""The checks worker: validates received submissions, records managers' responses."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import zoneinfo

from kafka import TopicPartition

from qc import events, logs, metrics, runner
from qc.consumer import Delivery, Handler
from qc.settings import TOPICS, Settings
from services.checks import metrics as checks_metrics
from services.checks.directory import Directory, publish_all
from services.checks.handlers import decide
from services.checks.question_sets import QuestionSets
from services.checks.store import Submissions

log = logging.getLogger(__name__)
GROUP = "qc-checks"


@dataclasses.dataclass
class _Lookups:
    """The directory as the validator reads it for one batch: sites and checkers by id."""

    sites: dict[str, dict]
    people: dict[str, dict]


class ChecksHandler(Handler):
    """Decides each received submission once and publishes the decision (again on redelivery)."""

    topics = [TOPICS["received"], TOPICS["alerts"]]

    def __init__(self, settings: Settings, db, publisher):
        self.settings = settings
        self.directory = Directory(db)
        self.submissions = Submissions(db)
        self.question_sets = QuestionSets.load(settings.schemas_dir)
        self.publisher = publisher
        self.tz = zoneinfo.ZoneInfo(settings.timezone)

    def handle(self, batch: list[Delivery]) -> None:
        """Route each event by type; what validation looks up is read once for the whole batch."""
        received = [d.event["data"] for d in batch if d.event["type"] == "org.qc.submission.received"]
        lookups = self._look_up(received) if received else None
        for delivery in batch:
            event = delivery.event
            with logs.correlation(event.get("correlationid")):
                if event["type"] == "org.qc.submission.received":
                    self._validate(event, lookups)
                elif event["type"] in ("org.qc.alert.acknowledged", "org.qc.alert.resolved"):
                    self._record_response(event)

    def _look_up(self, received: list[dict]) -> _Lookups:
        """The sites and checkers of a batch: two queries instead of two per event.

        The database is the pipeline's bottleneck (docs/benchmarks.md). The
        duplicate rule still asks per event (an index look-up that must see
        the decisions made earlier in this batch).
        """
        site_ids = sorted({r["site_id"] for r in received})
        checker_ids = sorted({r["checker_id"] for r in received})
        return _Lookups(
            sites={d["_id"]: d for d in self.directory.sites.find({"_id": {"$in": site_ids}})},
            people={d["_id"]: d for d in self.directory.people.find({"_id": {"$in": checker_ids}})},
        )

    def _validate(self, event: dict, lookups: _Lookups) -> None:
        received = event["data"]
        site = lookups.sites.get(received["site_id"])
        checker = lookups.people.get(received["checker_id"])
        ref = received["question_set"]
        duplicate = self.submissions.find_duplicate(received)
        decision = decide(
            received,
            site=site,
            checker=checker,
            question_set=self.question_sets.get(ref["id"], ref["version"]),
            duplicate_of=duplicate["_id"] if duplicate else None,
            today=dt.datetime.now(self.tz).date(),
            window_days=self.settings.visit_window_days,
        )
        # The first decision stands: a redelivery re-publishes it unchanged.
        record = self.submissions.record_decision(received, decision.status, decision.reasons, decision.region_id)
        decision_status, reasons = record["status"], record["reasons"]
        if decision_status == "validated":
            data = decision.validated if decision.status == "validated" else self._revalidated(received, record)
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
        data = dict(received, region_id=record["region_id"])
        data["answers"] = [{**a, "safety": safety.get(a["question_id"], False)} for a in received["answers"]]
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


def publish_directory_if_missing(settings: Settings, db, publisher) -> None:
    """Send the directory when the topic is empty (the embedded broker keeps no log across restarts)."""
    consumer = runner.make_probe_consumer(settings)
    try:
        partitions = consumer.partitions_for_topic(TOPICS["directory"]) or set()
        ends = consumer.end_offsets([TopicPartition(TOPICS["directory"], p) for p in partitions])
    finally:
        consumer.close()
    if sum(ends.values()) == 0:
        count = publish_all(Directory(db), publisher)
        log.info("directory published", extra={"entities": count})


def main() -> None:
    """Run the checks worker until SIGTERM."""

    def build(settings, db, publisher):
        checks_metrics.initialise()
        Directory(db).ensure_indexes()
        Submissions(db).ensure_indexes()
        publish_directory_if_missing(settings, db, publisher)
        return ChecksHandler(settings, db, publisher)

    runner.run_worker("checks", GROUP, build)


if __name__ == "__main__":
    main()
