"""Schema registries: the local file shared by processes, and a Confluent Schema Registry over HTTP (a fake
server stands in for it: the registry is a boundary we do not own)."""

from __future__ import annotations

import json
import multiprocessing
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agents.rules.events import DeviceSeen
from pipeline.errors import RegistryError, SchemaNotFound
from pipeline.wire.codec import Codec
from pipeline.wire.registry import ConfluentRegistry, LocalRegistry, registry_from_settings, subject_for


def schema(name: str, *fields: str) -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "t",
                       "fields": [{"name": f, "type": "string"} for f in fields]})


# ---- LocalRegistry


def test_the_same_schema_gets_the_same_id_however_it_is_spelled(tmp_path: Path) -> None:
    reg = LocalRegistry(tmp_path / "r.json")
    a = reg.register("s-t.A", schema("A", "x"))
    respelled = json.dumps(json.loads(schema("A", "x")), indent=4, sort_keys=True)
    assert reg.register("s-t.A", respelled) == a
    assert reg.register("s-t.A", schema("A", "x", "y")) != a


def test_one_schema_under_two_subjects_has_one_id_listed_under_both(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    reg = LocalRegistry(path)
    sid = reg.register("payments-t.A", schema("A", "x"))
    assert reg.register("orders-t.A", schema("A", "x")) == sid
    assert json.loads(path.read_text())["subjects"] == {"payments-t.A": [sid], "orders-t.A": [sid]}


def test_ids_survive_a_restart(tmp_path: Path) -> None:
    first = LocalRegistry(tmp_path / "r.json")
    ids = [first.register(f"s-t.{n}", schema(n, "x")) for n in "ABC"]
    again = LocalRegistry(tmp_path / "r.json")
    assert [again.register(f"s-t.{n}", schema(n, "x")) for n in "ABC"] == ids
    assert json.loads(again.get_schema(ids[1]))["name"] == "B"


def test_two_registries_on_one_file_agree(tmp_path: Path) -> None:
    worker, publisher = LocalRegistry(tmp_path / "r.json"), LocalRegistry(tmp_path / "r.json")
    a = worker.register("s-t.A", schema("A", "x"))
    b = publisher.register("s-t.B", schema("B", "x"))
    assert a != b
    assert json.loads(worker.get_schema(b))["name"] == "B"  # a miss re-reads the file
    assert worker.register("s-t.B", schema("B", "x")) == b
    assert publisher.register("s-t.A", schema("A", "x")) == a


def _register_many(path: str, prefix: str, out: Any) -> None:
    reg = LocalRegistry(path)
    names = [f"{prefix}{i}" for i in range(15)]
    out.put({reg.register(f"s-t.{name}", schema(name, "x")): name for name in names})


def test_processes_registering_at_once_never_share_an_id(tmp_path: Path) -> None:
    path = str(tmp_path / "r.json")
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_register_many, args=(path, p, out)) for p in "ABCD"]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    merged: dict[int, str] = {}
    for r in results:
        assert not set(r) & set(merged)
        merged.update(r)
    assert len(merged) == 60
    on_disk = json.loads(Path(path).read_text())["schemas"]
    assert {int(k): json.loads(v)["name"] for k, v in on_disk.items()} == merged


def test_an_unknown_id_is_schema_not_found(tmp_path: Path) -> None:
    reg = LocalRegistry(tmp_path / "r.json")
    reg.register("s-t.A", schema("A", "x"))
    with pytest.raises(SchemaNotFound):
        reg.get_schema(77)


def test_a_corrupt_registry_file_is_a_registry_error(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text("{not json")
    with pytest.raises(RegistryError, match="unreadable"):
        LocalRegistry(path).register("s-t.A", schema("A", "x"))
    path.write_text('{"schemas": ["a list"]}')
    with pytest.raises(RegistryError, match="not a registry file"):
        LocalRegistry(path).get_schema(1)


def test_settings_choose_the_registry() -> None:
    local = registry_from_settings(None, Path("/data"))
    assert isinstance(local, LocalRegistry) and local.path == Path("/data/schema-registry.json")
    remote = registry_from_settings("http://sr:8081/", Path("/data"))
    assert isinstance(remote, ConfluentRegistry) and remote.url == "http://sr:8081"


def test_subjects_follow_the_topic_record_name_strategy() -> None:
    assert subject_for("payments", "paymentjourney.PaymentFailed") == "payments-paymentjourney.PaymentFailed"


# ---- ConfluentRegistry against a fake Schema Registry


class FakeSchemaRegistry(ThreadingHTTPServer):
    """The two endpoints we use, as Confluent documents them; records every request it saw."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.schemas: dict[int, str] = {}
        self.subjects: dict[str, list[int]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.fail_with: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeSchemaRegistry

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's signature)
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        self.server.requests.append(("POST", self.path, dict(self.headers)))
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.server.fail_with:
            self._answer(self.server.fail_with, {"error_code": 50001, "message": "Error in the backend"})
            return
        if self.headers["Content-Type"] != "application/vnd.schemaregistry.v1+json":
            self._answer(415, {"error_code": 415, "message": "Unsupported Media Type"})
            return
        parts = self.path.split("/")
        if len(parts) != 4 or parts[1] != "subjects" or parts[3] != "versions":
            self._answer(404, {"error_code": 404, "message": "HTTP 404 Not Found"})
            return
        subject = urllib.parse.unquote(parts[2])
        canon = json.dumps(json.loads(body["schema"]), sort_keys=True)
        found = [i for i, s in self.server.schemas.items()
                 if json.dumps(json.loads(s), sort_keys=True) == canon]
        sid = found[0] if found else len(self.server.schemas) + 100
        self.server.schemas[sid] = body["schema"]
        self.server.subjects.setdefault(subject, []).append(sid)
        self._answer(200, {"id": sid})

    def do_GET(self) -> None:  # noqa: N802
        self.server.requests.append(("GET", self.path, dict(self.headers)))
        prefix = "/schemas/ids/"
        sid = int(self.path[len(prefix):]) if self.path.startswith(prefix) else -1
        if sid not in self.server.schemas:
            self._answer(404, {"error_code": 40403, "message": "Schema not found"})
            return
        self._answer(200, {"schema": self.server.schemas[sid]})


@pytest.fixture
def fake_registry() -> Iterator[FakeSchemaRegistry]:
    server = FakeSchemaRegistry()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_registering_posts_the_schema_once_and_caches_the_id(fake_registry: FakeSchemaRegistry) -> None:
    reg = ConfluentRegistry(fake_registry.url)
    sid = reg.register("payments-t.A", schema("A", "x"))
    assert reg.register("payments-t.A", schema("A", "x")) == sid
    assert [(m, p) for m, p, _ in fake_registry.requests] == [("POST", "/subjects/payments-t.A/versions")]
    assert fake_registry.requests[0][2]["Content-Type"] == "application/vnd.schemaregistry.v1+json"
    assert reg.get_schema(sid) == schema("A", "x")  # known from registering: no GET
    assert len(fake_registry.requests) == 1


def test_a_schema_is_fetched_by_id_once(fake_registry: FakeSchemaRegistry) -> None:
    sid = ConfluentRegistry(fake_registry.url).register("s-t.A", schema("A", "x"))
    reader = ConfluentRegistry(fake_registry.url)
    assert reader.get_schema(sid) == reader.get_schema(sid) == schema("A", "x")
    assert [m for m, _, _ in fake_registry.requests] == ["POST", "GET"]


def test_subjects_with_odd_characters_are_escaped_in_the_path(fake_registry: FakeSchemaRegistry) -> None:
    ConfluentRegistry(fake_registry.url).register("my topic/x-t.A", schema("A", "x"))
    assert fake_registry.requests[0][1] == "/subjects/my%20topic%2Fx-t.A/versions"
    assert list(fake_registry.subjects) == ["my topic/x-t.A"]


def test_an_id_the_registry_does_not_have_is_schema_not_found(fake_registry: FakeSchemaRegistry) -> None:
    with pytest.raises(SchemaNotFound, match="40403"):
        ConfluentRegistry(fake_registry.url).get_schema(5)


def test_a_failing_registry_is_a_registry_error_with_the_status(fake_registry: FakeSchemaRegistry) -> None:
    fake_registry.fail_with = 500
    with pytest.raises(RegistryError, match="HTTP 500") as err:
        ConfluentRegistry(fake_registry.url).register("s-t.A", schema("A", "x"))
    assert not isinstance(err.value, SchemaNotFound)


def test_an_unreachable_registry_is_a_registry_error_that_hides_credentials(
        fake_registry: FakeSchemaRegistry) -> None:
    port = fake_registry.server_address[1]
    fake_registry.shutdown()
    fake_registry.server_close()
    reg = ConfluentRegistry(f"http://key:hunter2@127.0.0.1:{port}", timeout=2.0)
    with pytest.raises(RegistryError, match="unreachable") as err:
        reg.get_schema(1)
    assert "hunter2" not in str(err.value) and "hunter2" not in repr(reg)


def test_credentials_in_the_url_are_sent_as_basic_auth(fake_registry: FakeSchemaRegistry) -> None:
    reg = ConfluentRegistry(fake_registry.url.replace("http://", "http://key:s%40cret@"))
    reg.register("s-t.A", schema("A", "x"))
    assert fake_registry.requests[0][2]["Authorization"] == "Basic a2V5OnNAY3JldA=="  # base64("key:s@cret")


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(RegistryError):
        ConfluentRegistry("file:///etc/passwd")


def test_two_codecs_share_ids_through_the_confluent_registry(fake_registry: FakeSchemaRegistry) -> None:
    rec = DeviceSeen(event_id="e", customer_id="c", occurred_at=1, device_id="d", ip="1", ip_country="NL",
                     user_agent="x")
    data = Codec(ConfluentRegistry(fake_registry.url)).encode(rec)
    assert Codec(ConfluentRegistry(fake_registry.url)).decode(data) == rec
    assert "devices-paymentjourney.DeviceSeen" in fake_registry.subjects
