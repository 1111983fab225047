"""Every topic's settings come from qc/topics.py, and docs/architecture.md shows them as they are."""

from __future__ import annotations

from pathlib import Path

from qc import topics
from qc.settings import TOPICS, Settings

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def test_every_topic_has_its_settings_in_the_one_table():
    assert sorted(t.name for t in topics.TABLE) == sorted(TOPICS.values())
    assert {t.cleanup for t in topics.TABLE} <= {"delete", "compact"}


def test_the_docs_show_the_table_as_it_is():
    text = ARCHITECTURE.read_text()
    for topic in topics.TABLE:
        row = f"| `{topic.name}` | {topic.cleanup} | {topics.kept_words(topic)} | {topic.why} |"
        assert row in text, f"docs/architecture.md's topic table is not what qc/topics.py says for {topic.name}"


def test_no_topic_keeps_a_check_longer_than_the_retention_period():
    settings = Settings(retention_days=14)
    for topic in topics.TABLE:
        made = topics.configs(topic, settings)
        if topic.cleanup == "delete":
            assert 0 < int(made["retention.ms"]) <= 14 * topics.DAY_MS, topic.name
    validated = next(t for t in topics.TABLE if t.key == "validated")
    assert topics.configs(validated, Settings(retention_days=0))["retention.ms"] == "-1"  # 0 keeps everything
    assert topics.configs(validated, Settings(retention_days=730))["retention.ms"] == str(730 * topics.DAY_MS)


def test_writes_wait_for_all_copies_but_one():
    assert topics.min_insync_replicas(Settings(topic_replication_factor=1)) == 1
    assert topics.min_insync_replicas(Settings(topic_replication_factor=3)) == 2
    assert topics.min_insync_replicas(Settings(topic_replication_factor=3, topic_min_insync_replicas=3)) == 3


def test_compose_makes_no_more_copies_than_it_has_brokers_and_never_lets_a_client_make_a_topic():
    import yaml

    compose = yaml.safe_load((ARCHITECTURE.parents[1] / "docker-compose.yml").read_text())
    brokers = [s for s in compose["services"].values() if "kafka" in str(s.get("image", ""))]
    env = compose["x-qc-env"]
    assert 1 <= int(env["QC_TOPIC_REPLICATION_FACTOR"]) <= len(brokers)
    assert len(env["QC_KAFKA_BOOTSTRAP"].split(",")) == len(brokers)
    assert all(b["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false" for b in brokers)
    assert compose["services"]["topics"]["command"] == ["qc", "topics", "create"]
