"""What the consumer loop hears of a rebalance: logged, and told to the handler."""

from __future__ import annotations

import logging

from kafka import ConsumerRebalanceListener, TopicPartition

from qc import metrics
from qc.handler import Handler

log = logging.getLogger("qc.consumer")


class RebalanceListener(ConsumerRebalanceListener):
    """Logs each rebalance and tells the handler. kafka-python calls these on its IO thread, where a
    call that waits on the network fails the rebalance (``partitions_for_topic`` with its metadata
    not cached, as on a fresh Kafka cluster): so the loop settles an assignment on its own thread."""

    def __init__(self, group: str, handler: Handler):
        self.group = group
        self.handler = handler
        self.assigned: set[TopicPartition] | None = None  # an assignment the loop has yet to settle

    def on_partitions_revoked(self, revoked):
        # Offsets are committed after every batch, before the next poll, so
        # nothing processed is left uncommitted when partitions move; except
        # while a handler holds state in memory (``Handler.holds``): then the
        # next owner replays from the last commit and rebuilds it.
        log.info(
            "partitions revoked", extra={"group": self.group, "count": len(revoked), "partitions": _names(revoked)}
        )
        self.assigned = None
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


def _names(partitions) -> list[str]:
    return sorted(f"{tp.topic}/{tp.partition}" for tp in partitions)
