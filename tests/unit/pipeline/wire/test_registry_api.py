"""The Schema Registry API over the local registry file, driven by confluent-kafka's own SchemaRegistryClient and,
for the exact error bodies, by plain HTTP."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from pipeline.errors import JourneyError, SchemaNotFound
from pipeline.wire.codec import Codec
from pipeline.wire.registry import ConfluentRegistry, LocalRegistry
from pipeline.wire.registry_api import RegistryApi, api_file, running_registry_api, serve_local_registry

SUBJECT = "payments-paymentjourney.PaymentAttempted"


def record(*fields: str, name: str = "A") -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "t",
                       "fields": [{"name": f, "type": "string"} for f in fields]})


@pytest.fixture
def api(tmp_path: Path) -> Iterator[RegistryApi]:
    with RegistryApi(LocalRegistry(tmp_path / "schema-registry.json")) as served:
        yield served


def call(api: RegistryApi, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(api.url + path, data=data, method=method,  # noqa: S310 (our loopback server)
                                 headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_the_confluent_client_reads_the_ids_the_worker_codec_registered(api: RegistryApi) -> None:
    registry = api.service.registry
    Codec(registry)  # registers every schema, as a worker does
    client = SchemaRegistryClient({"url": api.url})
    assert all("-paymentjourney." in s for s in client.get_subjects())
    latest = client.get_latest_version(SUBJECT)
    assert (latest.version, latest.schema_id) == (1, registry.versions(SUBJECT)[0])
    assert json.loads(client.get_schema(latest.schema_id).schema_str)["name"] == "PaymentAttempted"
    assert client.get_versions(SUBJECT) == [1]


def test_register_gives_one_id_per_schema_and_one_version_per_new_schema(api: RegistryApi) -> None:
    client = SchemaRegistryClient({"url": api.url})
    first = client.register_schema("s-t.A", Schema(record("x"), "AVRO"))
    assert client.register_schema("s-t.A", Schema(record("x"), "AVRO")) == first
    assert client.register_schema("other-t.A", Schema(record("x"), "AVRO")) == first
    evolved = json.loads(record("x"))
    evolved["fields"].append({"name": "y", "type": ["null", "string"], "default": None})
    second = client.register_schema("s-t.A", Schema(json.dumps(evolved), "AVRO"))
    assert second != first
    assert client.get_versions("s-t.A") == [1, 2]
    assert client.get_version("s-t.A", 1).schema_id == first
    assert client.lookup_schema("s-t.A", Schema(record("x"), "AVRO")).version == 1
    assert call(api, "GET", f"/schemas/ids/{first}/subjects") == (200, ["other-t.A", "s-t.A"])
    assert call(api, "GET", f"/schemas/ids/{second}/versions") == (200, [{"subject": "s-t.A", "version": 2}])
    assert call(api, "GET", "/subjects/s-t.A/versions/latest/schema")[1] == evolved


def test_an_incompatible_schema_is_refused_with_409_and_accepted_once_the_level_is_none(api: RegistryApi) -> None:
    client = SchemaRegistryClient({"url": api.url})
    client.register_schema("s-t.A", Schema(record("x"), "AVRO"))
    breaking = record("x", "required")
    assert client.test_compatibility("s-t.A", Schema(breaking, "AVRO")) is False
    status, body = call(api, "POST", "/subjects/s-t.A/versions", {"schema": breaking})
    assert status == 409 and body["error_code"] == 409 and "required" in body["message"]
    assert call(api, "POST", "/compatibility/subjects/s-t.A/versions/latest?verbose=true",
                {"schema": breaking})[1]["messages"]
    assert call(api, "GET", "/config") == (200, {"compatibilityLevel": "BACKWARD"})
    assert call(api, "PUT", "/config/s-t.A", {"compatibility": "NONE"}) == (200, {"compatibility": "NONE"})
    assert call(api, "GET", "/config") == (200, {"compatibilityLevel": "BACKWARD"})
    assert call(api, "GET", "/config/s-t.A") == (200, {"compatibilityLevel": "NONE"})
    assert client.register_schema("s-t.A", Schema(breaking, "AVRO")) > 0


def test_errors_carry_confluents_codes(api: RegistryApi) -> None:
    call(api, "POST", "/subjects/s-t.A/versions", {"schema": record("x")})
    assert call(api, "GET", "/subjects/nope/versions")[1]["error_code"] == 40401
    assert call(api, "GET", "/subjects/s-t.A/versions/7")[1]["error_code"] == 40402
    assert call(api, "GET", "/subjects/s-t.A/versions/zero")[1]["error_code"] == 42202
    assert call(api, "GET", "/schemas/ids/99") == (404, {"error_code": 40403, "message": "Schema not found"})
    assert call(api, "POST", "/subjects/s-t.A", {"schema": record("z")})[1]["error_code"] == 40403
    assert call(api, "POST", "/subjects/nope", {"schema": record("z")})[1]["error_code"] == 40401
    assert call(api, "POST", "/subjects/s-t.A/versions", {"schema": '{"type": "nope"}'})[0:1] == (422,)
    assert call(api, "POST", "/subjects/s-t.A/versions", {"schema": "{}"})[1]["error_code"] == 42201
    assert call(api, "POST", "/subjects/s-t.A/versions", {"schema": "1", "schemaType": "JSON"})[1]["error_code"] \
        == 42201
    assert call(api, "PUT", "/config", {"compatibility": "SIDEWAYS"})[1]["error_code"] == 42203
    assert call(api, "GET", "/config/s-t.A")[1]["error_code"] == 40408
    assert call(api, "GET", "/config/s-t.A?defaultToGlobal=true") == (200, {"compatibilityLevel": "BACKWARD"})
    assert call(api, "DELETE", "/subjects/s-t.A")[0] == 405
    with pytest.raises(SchemaRegistryError) as err:
        SchemaRegistryClient({"url": api.url}).get_latest_version("nope")
    assert (err.value.http_status_code, err.value.error_code) == (404, 40401)


def test_a_registry_file_written_before_versions_and_config_existed_is_served(tmp_path: Path) -> None:
    path = tmp_path / "schema-registry.json"
    path.write_text(json.dumps({"schemas": {"1": record("x"), "2": record("x", "y")}, "subjects": {"s-t.A": [1, 2]}}))
    with RegistryApi(LocalRegistry(path)) as api:
        assert call(api, "GET", "/subjects/s-t.A/versions") == (200, [1, 2])
        assert call(api, "GET", "/subjects/s-t.A/versions/1")[1]["id"] == 1
        call(api, "PUT", "/config", {"compatibility": "FULL"})
    doc = json.loads(path.read_text())
    assert doc["subjects"] == {"s-t.A": [1, 2]} and doc["config"] == {"compatibility": "FULL"}
    assert LocalRegistry(path).register("s-t.A", record("x")) == 1  # the existing reader is unaffected


def test_the_served_url_is_advertised_in_the_data_directory_while_it_runs(tmp_path: Path) -> None:
    with serve_local_registry(tmp_path) as api:
        assert running_registry_api(tmp_path) == api.url
        assert json.loads(api_file(tmp_path).read_text())["pid"] == os.getpid()
        assert call(api, "GET", "/subjects") == (200, [])
    assert running_registry_api(tmp_path) is None
    assert not api_file(tmp_path).exists()


def test_a_codec_that_may_not_register_looks_the_ids_up_through_the_api(api: RegistryApi) -> None:
    registered = Codec(api.service.registry)  # someone registered our schemas beforehand
    lookup_only = Codec(ConfluentRegistry(api.url), register=False)
    assert lookup_only.schema_id("PaymentAttempted") == registered.schema_id("PaymentAttempted")


def test_a_schema_nobody_registered_is_named_when_registration_is_off(api: RegistryApi) -> None:
    with pytest.raises(SchemaNotFound):
        ConfluentRegistry(api.url).lookup_id(SUBJECT, record("x"))
    with pytest.raises(JourneyError, match="no id for our schema under subject .*JOURNEY_REGISTER_SCHEMAS=1"):
        Codec(ConfluentRegistry(api.url), register=False)
