"""pipeline/topics.py is the one table of topics: the README's topic table says the same."""

from __future__ import annotations

from pathlib import Path

from agents.rules.events import RECORD_TYPES
from pipeline import topics

README = Path(__file__).resolve().parents[3] / "README.md"


def readme_rows() -> dict[str, list[str]]:
    text = README.read_text()
    start = text.index("| topic | records | written by | read by |")
    lines = text[start:text.index("\n\n", start)].splitlines()[2:]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return {c[0].strip("`"): c[1:] for c in cells}


def test_the_readme_topic_table_is_the_topic_table_of_topics_py() -> None:
    expected = {t.name: [", ".join(topics.records_on(t.name)) + (f" {t.note}" if t.note else ""), t.written_by,
                         t.read_by] for t in topics.TOPICS if t.kind != "dead-letter"}
    expected["<input or internal>-dlq"] = [topics.DLQ_RECORDS, "worker", "operators"]
    assert readme_rows() == expected


def test_every_record_type_travels_on_a_known_topic_and_dead_letters_cover_every_consumed_topic() -> None:
    assert {cls.TOPIC for cls in RECORD_TYPES.values()} <= set(topics.ALL_TOPICS)
    assert set(topics.DLQ_TOPICS) == {topics.dlq_topic(t) for t in (*topics.INPUT_TOPICS, *topics.INTERNAL_TOPICS)}
    assert all(not topics.records_on(t) for t in topics.DLQ_TOPICS)
