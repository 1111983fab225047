"""What a worker does with events: the interface the consumer loop (qc/consumer.py) calls."""

from __future__ import annotations

import dataclasses

from kafka.consumer.fetcher import ConsumerRecord


@dataclasses.dataclass
class Delivery:
    """One consumed record and its decoded event."""

    record: ConsumerRecord
    event: dict


class Handler:
    """What a worker does with events; every method must be safe to repeat."""

    topics: list[str] = []
    # Events per poll at most; None: the setting every worker shares (``consumer_max_records``).
    poll_records: int | None = None

    def handle(self, batch: list[Delivery]) -> None:
        """Make the batch's effects durable and queue follow-up events."""
        raise NotImplementedError

    def tick(self) -> None:
        """Periodic work between polls (e.g. retrying deliveries)."""

    def paused(self) -> bool:
        """True to stop fetching for now (asked between batches, so nothing is half done)."""
        return False

    def holds(self) -> bool:
        """True while effects of handled batches are held in memory only: the loop then commits at most every
        ``commit_interval_ms``, after ``flush`` (as Kafka Streams commits its state stores' caches)."""
        return False

    def flush(self) -> None:
        """Make what ``holds`` held durable and queue its follow-up events; the loop commits right after."""

    def committed(self) -> None:
        """A batch's effects, follow-up events and offsets are all durable now."""

    def partitions_changed(self, owns_all: bool) -> None:
        """Partitions were assigned or revoked; ``owns_all``: this member now reads every partition of its topics."""

    def close(self) -> None:
        """The loop has stopped: let go of what the handler runs beside it (threads)."""
