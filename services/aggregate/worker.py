"""The aggregation worker: validated submissions in, roll-ups and ``rollup.updated`` out."""

from __future__ import annotations

import datetime as dt
import logging

from qc import events, metrics, runner
from qc.consumer import Delivery, Handler
from qc.settings import TOPICS, Settings
from services.aggregate import handlers, retention
from services.aggregate.answerers import Answerers
from services.aggregate.control import ReplayControl
from services.aggregate.directory import SiteDirectory
from services.aggregate.feedback import Feedback
from services.aggregate.store import RollupStore

log = logging.getLogger(__name__)
GROUP = "qc-aggregate"


class AggregateHandler(Handler):
    """Stores facts once, recomputes the roll-ups they touch, announces them."""

    topics = [TOPICS["validated"], TOPICS["directory"], TOPICS["feedback"]]

    def __init__(self, store: RollupStore, directory: SiteDirectory, publisher, control: ReplayControl | None = None):
        self.store = store
        self.directory = directory
        self.publisher = publisher  # None during a replay: rebuilt figures are not news
        self.control = control
        self.feedback = Feedback(store.facts.database)
        # Outside the store's (replay-prefixed) collections, like feedback: filing is idempotent.
        self.answerers = Answerers(store.facts.database)

    def paused(self) -> bool:
        """Paused while ``qc replay`` rebuilds the collections."""
        return self.control.worker_should_pause() if self.control else False

    def handle(self, batch: list[Delivery]) -> None:
        """One write per collection per batch (the database is the bottleneck)."""
        facts, validated = [], []
        for delivery in batch:
            event = delivery.event
            if event["type"] == "org.qc.submission.validated":
                facts.append(handlers.fact_from_validated(event["data"]))
                validated.append(event["data"])
            elif event["type"] == "org.qc.directory.changed":
                self.directory.apply(event["data"])
            elif event["type"] == "org.qc.fix.feedback":
                self.feedback.record(event["data"])
        new_ids = self.store.save_facts(facts)
        self.answerers.record(validated)
        rollups = self.store.recompute(handlers.affected_keys(facts), new_ids, sites_done=self._announce)
        self._announce([r for r in rollups if r["scope"] != "site"])
        now = events.now()
        for fact in facts:
            if fact["_id"] in new_ids:  # replays would distort the latency figures
                received = dt.datetime.fromisoformat(fact["received_at"])
                metrics.PIPELINE_LATENCY.labels("rollup_updated").observe(max((now - received).total_seconds(), 0))
        if facts:
            log.info("roll-ups updated", extra={"facts": len(facts), "new": len(new_ids), "rollups": len(rollups)})

    def _announce(self, rollups: list[dict]) -> None:
        """Send ``rollup.updated`` for each (the producer batches them; the loop flushes before committing)."""
        for rollup in rollups if self.publisher else []:
            key = rollup["site_id"] or rollup["region_id"] or "org"
            self.publisher.send(TOPICS["rollups"], key, rollup_event(rollup))


def rollup_event(rollup: dict) -> dict:
    """The public ``org.qc.rollup.updated`` event for one roll-up."""
    data = {
        k: rollup[k]
        for k in (
            "scope",
            "site_id",
            "region_id",
            "period",
            "period_kind",
            "checks",
            "score",
            "share_good",
            "questions",
            "latest_received_at",
        )
    }
    data["updated_at"] = events.isoformat(rollup["updated_at"])
    return events.make_event(
        "org.qc.rollup.updated",
        source="qc/aggregate",
        subject=rollup["_id"],
        data=data,
        # Same figures, same id: consumers can drop repeats.
        event_id=f"{rollup['_id']}@{rollup['checks']}",
    )


def main() -> None:
    """Run the aggregation worker until SIGTERM."""

    def build(settings: Settings, db, publisher):
        metrics.initialise_latency("rollup_updated")
        store = RollupStore(db)
        store.ensure_indexes()
        directory = SiteDirectory(db)
        directory.ensure_indexes()
        Feedback(db).ensure_indexes()
        Answerers(db).ensure_indexes()
        return AggregateHandler(store, directory, publisher, ReplayControl(db))

    runner.run_worker("aggregate", GROUP, build, jobs=[retention.job])


if __name__ == "__main__":
    main()
