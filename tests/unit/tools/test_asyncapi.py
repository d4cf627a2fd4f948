"""docs/asyncapi.yaml: a valid AsyncAPI 3.0 document, in step with schemas/ and pipeline/topics.py.

No PyPI package ships the official AsyncAPI 3.0.0 JSON schema, so the document is validated with `asyncapi3`, a
pydantic model of the whole 3.0 specification (unknown fields, missing required ones and wrong types fail), and the
references it does not resolve are resolved here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import fastavro
import pytest
import yaml

from pipeline import topics

with warnings.catch_warnings():  # its field named `schema` shadows pydantic's: harmless, and not ours
    warnings.simplefilter("ignore", UserWarning)
    from asyncapi3.models import AsyncAPI3

ROOT = Path(__file__).resolve().parents[3]
DOC_PATH = ROOT / "docs" / "asyncapi.yaml"
AVRO = "application/vnd.apache.avro+json;version=1.9.0"


def load() -> dict[str, Any]:
    return dict(yaml.safe_load(DOC_PATH.read_text()))


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_the_document_is_a_valid_asyncapi_3_document() -> None:
    parsed = AsyncAPI3.model_validate(load())
    assert parsed.asyncapi == "3.0.0"
    assert parsed.servers is not None and {"embedded", "production"} <= set(parsed.servers.root)


def test_the_validator_rejects_what_the_specification_does_not_allow() -> None:
    broken = load()
    broken["channels"]["payments"]["partitions"] = 4  # belongs in the Kafka binding, not on the channel
    with pytest.raises(ValueError, match="payments"):
        AsyncAPI3.model_validate(broken)
    del broken["channels"]["payments"]["partitions"]
    del broken["info"]
    with pytest.raises(ValueError, match="info"):
        AsyncAPI3.model_validate(broken)


def test_every_reference_resolves_and_operations_send_their_channels_messages() -> None:
    doc = load()
    for ref in refs(doc):
        resolve(doc, ref)
    for name, op in doc["operations"].items():
        channel = op["channel"]["$ref"]
        for m in op["messages"]:
            assert m["$ref"].startswith(channel + "/messages/"), f"{name}: {m['$ref']} is not on {channel}"


def test_there_is_a_channel_per_topic_keyed_by_customer_id() -> None:
    doc = load()
    assert list(doc["channels"]) == list(topics.ALL_TOPICS)
    for ref in doc["channels"].values():
        for m in ref["messages"].values():
            assert "customer_id" in resolve(doc, m["$ref"])["bindings"]["kafka"]["key"]["description"]


@pytest.mark.parametrize("path", sorted((ROOT / "schemas").glob("*.avsc")), ids=lambda p: p.stem)
def test_every_record_is_a_message_with_its_avro_schema_on_its_topic(path: Path) -> None:
    doc = load()
    message = doc["components"]["messages"][path.stem]
    assert message["payload"]["schemaFormat"] == AVRO
    assert message["payload"]["schema"] == json.loads(path.read_text())
    fastavro.parse_schema(message["payload"]["schema"])
    kafka = message["bindings"]["kafka"]
    assert (kafka["schemaIdLocation"], kafka["schemaIdPayloadEncoding"], kafka["schemaLookupStrategy"]) == (
        "payload", "confluent", "TopicRecordNameStrategy")
    carriers = [c for c, ch in doc["channels"].items() if path.stem in ch["messages"]]
    assert carriers == [message["payload"]["schema"]["topic"]]


def test_the_document_is_fresh() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_asyncapi.py"), "--check"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert run.returncode == 0, "docs/asyncapi.yaml is stale: run make asyncapi"
