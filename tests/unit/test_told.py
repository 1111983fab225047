"""Telling what changed: a change is marked told only once the broker has it, and a broker that is down
is waited for once per run, not once per change."""

from qc import told
from qc.kafka import PublishError


class _Broker:
    """Takes events until it is down; what it took is kept in order."""

    def __init__(self, down_after: int):
        self.took: list[str] = []
        self.down_after = down_after

    def publish_sync(self, topic, key, event):
        if len(self.took) >= self.down_after:
            raise PublishError("broker down")
        self.took.append(key)


def test_a_change_is_marked_told_only_when_the_broker_took_it():
    marked = []
    assert told.tell(_Broker(1), "qc.t", "a", {}, lambda: marked.append("a")) is True
    assert told.tell(_Broker(0), "qc.t", "b", {}, lambda: marked.append("b")) is False
    assert marked == ["a"]


def test_telling_the_untold_stops_at_the_first_the_broker_does_not_take():
    broker, marked = _Broker(2), []

    def tell_one(key):
        return told.tell(broker, "qc.t", key, {}, lambda: marked.append(key))

    assert told.tell_each(iter(["a", "b", "c", "d"]), tell_one) == 2
    assert broker.took == marked == ["a", "b"]  # "c" was tried once; "d" waits for the next run
