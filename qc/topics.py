"""Every topic's settings, in one place: `qc topics create` makes the topics from this table.

docker-compose.yml's one-shot ``topics`` job, `make run`, `make kafka`'s stacks and the tests all
create topics through ``qc.kafka.create_topics``, which reads only this; docs/architecture.md shows
the same table (a unit test keeps them equal). Nothing is left to a broker's defaults: a topic made
by accident (a client producing to a name before it exists) would have the broker's partition count
and its seven days' retention.
"""

from __future__ import annotations

import dataclasses

from qc.settings import TOPICS, Settings

DAY_MS = 24 * 3600 * 1000


@dataclasses.dataclass(frozen=True)
class Topic:
    key: str  # as in qc.settings.TOPICS
    cleanup: str  # "delete": old events go after the retention; "compact": the last event per key stays
    retention_days: int | None  # None: as long as QC_RETENTION_DAYS keeps a check's words (0 there: for ever)
    why: str  # why it is kept this long (shown in docs/architecture.md)

    @property
    def name(self) -> str:
        return TOPICS[self.key]


TABLE = (
    Topic("received", "delete", 30, "read once by the validator; the intake's outbox covers a lost log"),
    Topic(
        "validated",
        "delete",
        None,
        "the history: `qc replay` rebuilds every roll-up from it (and refuses once the log no longer starts at 0)",
    ),
    Topic("rejected", "delete", 30, "read once by notify (a checker told why)"),
    Topic("rollups", "delete", 7, "read at once by notify's rules; the roll-ups themselves are in the database"),
    Topic("alerts", "delete", 30, 'read once by checks ("you said, we did" on My checks)'),
    Topic("directory", "compact", None, "sites, people and links: a worker starting reads the last event per key"),
    Topic("deadletter", "delete", 90, "events no worker could process, with the reason, kept for ops to look at"),
    Topic("feedback", "delete", None, 'checkers\' "is it better now?" answers, counted by aggregate and notify'),
    Topic("actions", "delete", 30, "actions made and changed: read by checks (My checks) and aggregate (site pages)"),
    Topic("reports", "compact", None, "right-of-reply reports' last state: notify's home page lists those waiting"),
    Topic("questions", "compact", None, "each version of the questions made with checkers: its questions' words"),
)


def min_insync_replicas(settings: Settings) -> int:
    """How many copies a write must reach before it is acknowledged (and the check answered 202).

    One fewer than the replication factor, at least 1: with three copies, one broker can be down and
    writes go on; with two down, writes stop rather than be kept by a single broker.
    """
    return settings.topic_min_insync_replicas or max(1, settings.topic_replication_factor - 1)


def retention_days(topic: Topic, settings: Settings) -> int | None:
    """How many days ``topic`` keeps an event (None: for ever); never longer than QC_RETENTION_DAYS, after
    which every service anonymises its own copy of a check (docs/operations.md, Retention)."""
    limits = [days for days in (topic.retention_days, settings.retention_days) if days]
    return min(limits) if limits else None


def configs(topic: Topic, settings: Settings) -> dict[str, str]:
    """The topic configs ``topic`` is created with."""
    made = {"cleanup.policy": topic.cleanup, "min.insync.replicas": str(min_insync_replicas(settings))}
    if topic.cleanup == "delete":  # a compacted topic keeps the last event of every key, however old
        days = retention_days(topic, settings)
        made["retention.ms"] = str(-1 if days is None else days * DAY_MS)
    return made


def kept_words(topic: Topic) -> str:
    """How long ``topic`` keeps an event, in the words of docs/architecture.md's table."""
    if topic.cleanup == "compact":
        return "the last event of each key"
    if topic.retention_days is None:
        return "as long as `QC_RETENTION_DAYS`"
    return f"{topic.retention_days} days"
