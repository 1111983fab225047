"""qc.settings.GROUP_TOPICS (what the outbox waits for every group to read) says what each worker reads."""

from qc.settings import GROUP_TOPICS
from services.aggregate.worker import GROUP as AGGREGATE_GROUP
from services.aggregate.worker import AggregateHandler
from services.checks.worker import GROUP as CHECKS_GROUP
from services.checks.worker import ChecksHandler
from services.notify.worker import GROUP as NOTIFY_GROUP
from services.notify.worker import NotifyHandler


def test_every_worker_group_and_its_topics_are_listed():
    handlers = {CHECKS_GROUP: ChecksHandler, AGGREGATE_GROUP: AggregateHandler, NOTIFY_GROUP: NotifyHandler}
    assert {group: set(handler.topics) for group, handler in handlers.items()} == {
        group: set(topics) for group, topics in GROUP_TOPICS.items()
    }
