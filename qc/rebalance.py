"""What the consumer loop hears of a rebalance: logged, and told to the handler."""

from __future__ import annotations

import logging
import time

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition

from qc import metrics
from qc.handler import Handler

log = logging.getLogger("qc.consumer")

# A join that began (at subscribe, or with "partitions revoked") always ends in "partitions assigned", even
# an empty one, within the group's rebalance timeout. kafka-python has been seen to hang in a rejoin after
# starting on topics whose metadata was not there yet: the member then holds nothing, for good, while the
# others wait for it (seen on Apache Kafka and on Tansu; its commits then fail with "rebalance in
# progress" on every round). Past this, the member leaves and joins again. Joins seen on both brokers take
# 2-3 s, and a member busy with a batch rejoins at its next poll, seconds later: 30 s is far beyond both.
REJOIN_AFTER_SECONDS = 30.0


class RebalanceListener(ConsumerRebalanceListener):
    """Logs each rebalance and tells the handler. kafka-python calls these on its IO thread, where a
    call that waits on the network fails the rebalance (``partitions_for_topic`` with its metadata
    not cached, as on a fresh Kafka cluster): so the loop settles an assignment on its own thread."""

    def __init__(self, group: str, handler: Handler):
        self.group = group
        self.handler = handler
        self.assigned: set[TopicPartition] | None = None  # an assignment the loop has yet to settle
        self.joining_since: float | None = time.monotonic()  # a join began and has not ended
        self.rejoin_after = REJOIN_AFTER_SECONDS

    def rejoin_if_stuck(self, consumer: KafkaConsumer, topics: list[str]) -> bool:
        """Leave and join the group again when a join has not ended within ``rejoin_after``."""
        if self.joining_since is None or time.monotonic() - self.joining_since < self.rejoin_after:
            return False
        log.warning(
            "no assignment since a rebalance began: leaving and joining the group again",
            extra={"group": self.group, "seconds": round(time.monotonic() - self.joining_since)},
        )
        consumer.unsubscribe()
        consumer.subscribe(topics, listener=self)
        self.joining_since = time.monotonic()
        return True

    def on_partitions_revoked(self, revoked):
        # Offsets are committed after every batch, before the next poll, so
        # nothing processed is left uncommitted when partitions move; except
        # while a handler holds state in memory (``Handler.holds``): then the
        # next owner replays from the last commit and rebuilds it.
        log.info(
            "partitions revoked", extra={"group": self.group, "count": len(revoked), "partitions": _names(revoked)}
        )
        self.assigned = None
        self.joining_since = time.monotonic()
        for tp in revoked:
            # 0, not removal: the gauge is "livemax" across processes, so the
            # partition's new owner reports the real figure.
            metrics.CONSUMER_LAG.labels(self.group, tp.topic, str(tp.partition)).set(0)
        self.handler.partitions_changed(False)

    def on_partitions_assigned(self, assigned):
        # Which ones, so the logs show how a scaled-out group shares the work.
        log.info(
            "partitions assigned", extra={"group": self.group, "count": len(assigned), "partitions": _names(assigned)}
        )
        self.handler.partitions_changed(False)  # until the loop knows whether they are all of them
        self.assigned = set(assigned)
        self.joining_since = None


def _names(partitions) -> list[str]:
    return sorted(f"{tp.topic}/{tp.partition}" for tp in partitions)
