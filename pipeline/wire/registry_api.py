"""A Confluent-compatible Schema Registry HTTP API over the local registry file, for the embedded broker.

With the embedded broker, schema ids come from LocalRegistry's file in the data directory; this serves that file
over the REST API of Confluent Schema Registry, so its standard clients (confluent-kafka's SchemaRegistryClient,
AvroSerializer and AvroDeserializer, Kafka UIs, kcat's Avro mode) read and write the topics. `journey broker` and
`journey demo` start it on a free loopback port and record its URL in <data_dir>/broker/schema-registry-api.json,
next to the broker's address (`running_registry_api`). With SCHEMA_REGISTRY_URL set, a real registry is in use and
none is started.

Served (Confluent's paths, bodies and error codes; only Avro, without references):

    GET  /subjects                                    GET  /schemas/ids/{id}     GET /schemas/ids/{id}/subjects
    GET  /subjects/{subject}/versions                 GET  /schemas/ids/{id}/versions        GET /schemas/types
    GET  /subjects/{subject}/versions/{v|latest}[/schema]
    POST /subjects/{subject}/versions                 register (checked against the subject's level): {"id"}
    POST /subjects/{subject}                          look a schema up: {"subject", "version", "id", "schema"}
    POST /compatibility/subjects/{subject}/versions[/{v|latest}]          {"is_compatible"} (+ "messages")
    GET|PUT /config, GET|PUT /config/{subject}        the compatibility level, BACKWARD unless set

The levels are Confluent's (pipeline/wire/compatibility.py): BACKWARD, the default, accepts a new version when it
reads data written with the latest one, by Avro's schema resolution. Errors are {"error_code", "message"}: 40401
subject not found, 40402 version not found, 40403 schema not found, 42201 invalid schema, 42202 invalid version,
42203 invalid compatibility level, 409 incompatible schema. Ids are never deleted (bytes in the topics name them),
so DELETE answers 405.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from pipeline.errors import SchemaNotFound
from pipeline.wire.compatibility import DEFAULT_LEVEL, LEVELS, InvalidSchema, check, parse
from pipeline.wire.registry import LocalRegistry, local_registry

log = logging.getLogger(__name__)
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
_MAX_BODY = 1 << 20


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _subject_missing(subject: str) -> ApiError:
    return ApiError(404, 40401, f"Subject '{subject}' not found.")


class RegistryService:
    """The API's answers, as (status, JSON value), without HTTP: a request's method, path, query and body."""

    def __init__(self, registry: LocalRegistry) -> None:
        self.registry = registry
        self._lock = threading.Lock()  # LocalRegistry's in-memory maps are not shared safely between threads
        s = r"(?P<subject>[^/]+)"
        v = r"(?P<version>[^/]+)"
        i = r"(?P<id>[^/]+)"
        routes: list[tuple[str, str, Callable[..., Any]]] = [
            ("GET", "/?", lambda q, b: {}),
            ("GET", "/subjects", lambda q, b: self.registry.subjects()),
            ("GET", f"/subjects/{s}/versions", self._versions),
            ("GET", f"/subjects/{s}/versions/{v}", self._version),
            ("GET", f"/subjects/{s}/versions/{v}/schema", self._version_schema),
            ("POST", f"/subjects/{s}/versions", self._register),
            ("POST", f"/subjects/{s}", self._lookup),
            ("GET", "/schemas/types", lambda q, b: ["AVRO"]),
            ("GET", f"/schemas/ids/{i}", self._schema),
            ("GET", f"/schemas/ids/{i}/subjects", self._schema_subjects),
            ("GET", f"/schemas/ids/{i}/versions", self._schema_versions),
            ("POST", f"/compatibility/subjects/{s}/versions", self._compatible_all),
            ("POST", f"/compatibility/subjects/{s}/versions/{v}", self._compatible),
            ("GET", "/config", lambda q, b: {"compatibilityLevel": self._level(None)}),
            ("PUT", "/config", self._set_level),
            ("GET", f"/config/{s}", self._subject_level),
            ("PUT", f"/config/{s}", self._set_level),
        ]
        self._routes = [(m, re.compile(f"^{p}$"), f) for m, p, f in routes]

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        try:
            if method == "DELETE":
                raise ApiError(405, 405, "the embedded registry never deletes: bytes in the topics name its ids")
            for m, pattern, answer in self._routes:
                found = pattern.match(path)
                if found and m == method:
                    args = {k: urllib.parse.unquote(x) for k, x in found.groupdict().items()}
                    with self._lock:
                        return 200, answer(query, body, **args)
            raise ApiError(404, 404, "HTTP 404 Not Found")
        except ApiError as err:
            return err.status, {"error_code": err.code, "message": err.message}
        except SchemaNotFound:
            return 404, {"error_code": 40403, "message": "Schema not found"}

    # ---- subjects and versions

    def _ids(self, subject: str) -> list[int]:
        ids = self.registry.versions(subject)
        if not ids:
            raise _subject_missing(subject)
        return ids

    def _versions(self, q: dict[str, str], b: Any, subject: str) -> list[int]:
        return list(range(1, len(self._ids(subject)) + 1))

    def _pick(self, subject: str, version: str) -> tuple[int, int]:
        ids = self._ids(subject)
        if version in ("latest", "-1"):
            return len(ids), ids[-1]
        if not version.isdigit() or int(version) < 1:
            raise ApiError(422, 42202, f"The specified version '{version}' is not a valid version id.")
        if int(version) > len(ids):
            raise ApiError(404, 40402, f"Version {version} not found.")
        return int(version), ids[int(version) - 1]

    def _version(self, q: dict[str, str], b: Any, subject: str, version: str) -> dict[str, Any]:
        n, sid = self._pick(subject, version)
        return {"subject": subject, "version": n, "id": sid, "schema": self.registry.get_schema(sid)}

    def _version_schema(self, q: dict[str, str], b: Any, subject: str, version: str) -> Any:
        return json.loads(self.registry.get_schema(self._pick(subject, version)[1]))

    def _register(self, q: dict[str, str], body: Any, subject: str) -> dict[str, int]:
        schema = _schema_of(body)
        found = self.registry.lookup(subject, schema)
        if found is not None:
            return {"id": found[1]}
        problems = check(self._level(subject), schema, self._history(subject))
        if problems:
            raise ApiError(409, 409, "Schema being registered is incompatible with an earlier schema for subject "
                                     f"\"{subject}\", details: {problems}")
        return {"id": self.registry.register(subject, schema)}

    def _lookup(self, q: dict[str, str], body: Any, subject: str) -> dict[str, Any]:
        schema = _schema_of(body)
        self._ids(subject)
        found = self.registry.lookup(subject, schema)
        if found is None:
            raise ApiError(404, 40403, "Schema not found")
        return {"subject": subject, "version": found[0], "id": found[1], "schema": self.registry.get_schema(found[1])}

    def _history(self, subject: str) -> list[str]:
        return [self.registry.get_schema(sid) for sid in self.registry.versions(subject)]

    # ---- schemas by id

    def _schema_id(self, text: str) -> int:
        if not text.isdigit():
            raise ApiError(404, 40403, "Schema not found")
        return int(text)

    def _schema(self, q: dict[str, str], b: Any, id: str) -> dict[str, str]:  # noqa: A002 (the path's name)
        return {"schema": self.registry.get_schema(self._schema_id(id))}

    def _schema_subjects(self, q: dict[str, str], b: Any, id: str) -> list[str]:  # noqa: A002
        subjects = self.registry.subjects_of(self._schema_id(id))
        if not subjects:
            raise ApiError(404, 40403, "Schema not found")
        return subjects

    def _schema_versions(self, q: dict[str, str], b: Any, id: str) -> list[dict[str, Any]]:  # noqa: A002
        sid = self._schema_id(id)
        return [{"subject": s, "version": self.registry.versions(s).index(sid) + 1}
                for s in self._schema_subjects(q, b, id)]

    # ---- compatibility

    def _level(self, subject: str | None) -> str:
        own = self.registry.compatibility(subject) if subject is not None else None
        return own or self.registry.compatibility() or DEFAULT_LEVEL

    def _subject_level(self, q: dict[str, str], b: Any, subject: str) -> dict[str, str]:
        own = self.registry.compatibility(subject)
        if own is None and q.get("defaultToGlobal", "").lower() != "true":
            raise ApiError(404, 40408, f"Subject '{subject}' does not have subject-level compatibility configured")
        return {"compatibilityLevel": own or self._level(None)}

    def _set_level(self, q: dict[str, str], body: Any, subject: str | None = None) -> dict[str, str]:
        level = body.get("compatibility") if isinstance(body, dict) else None
        if not isinstance(level, str) or level.upper() not in LEVELS:
            raise ApiError(422, 42203, f"Invalid compatibility level {level!r}; valid: {', '.join(LEVELS)}")
        self.registry.set_compatibility(level.upper(), subject)
        return {"compatibility": level.upper()}

    def _compatible(self, q: dict[str, str], body: Any, subject: str, version: str) -> dict[str, Any]:
        schema = _schema_of(body)
        _, sid = self._pick(subject, version)
        level = self._level(subject).removesuffix("_TRANSITIVE")  # against the one version asked about
        return _verdict(check(level, schema, [self.registry.get_schema(sid)]), q)

    def _compatible_all(self, q: dict[str, str], body: Any, subject: str) -> dict[str, Any]:
        schema = _schema_of(body)
        self._ids(subject)
        return _verdict(check(self._level(subject), schema, self._history(subject)), q)


def _verdict(problems: list[str], q: dict[str, str]) -> dict[str, Any]:
    answer: dict[str, Any] = {"is_compatible": not problems}
    if q.get("verbose", "").lower() == "true":
        answer["messages"] = problems
    return answer


def _schema_of(body: Any) -> str:
    """The Avro schema of a request body {"schema": "...", "schemaType"?, "references"?}, checked to parse."""
    if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
        raise ApiError(422, 42201, "Invalid schema: the body needs a \"schema\" string")
    if body.get("schemaType", "AVRO") != "AVRO":
        raise ApiError(422, 42201, f"Invalid schema: schemaType {body['schemaType']!r}; only AVRO is served here")
    if body.get("references"):
        raise ApiError(422, 42201, "Invalid schema: schema references are not supported by the embedded registry")
    try:
        parse(body["schema"])
    except InvalidSchema as err:
        raise ApiError(422, 42201, f"Invalid schema: {err}") from None
    return str(body["schema"])


class _Handler(BaseHTTPRequestHandler):
    service: RegistryService  # set on the subclass each server makes
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's names)
        self._answer("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._answer("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._answer("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._answer("DELETE")

    def _answer(self, method: str) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        status, answer = self._body_or_error()
        if status == 200:
            status, answer = self.service.handle(method, parts.path.rstrip("/") or "/", query, answer)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body_or_error(self) -> tuple[int, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            return 413, {"error_code": 413, "message": "request body too large"}
        raw = self.rfile.read(length) if length else b""
        try:
            return 200, json.loads(raw) if raw else None
        except ValueError:
            return 400, {"error_code": 400, "message": "the request body is not JSON"}

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        log.debug("registry api: " + format, *args)


class RegistryApi:
    """The HTTP server on a thread of its own. Use `with`, or start() and stop() (idempotent)."""

    def __init__(self, registry: LocalRegistry, host: str = "127.0.0.1", port: int = 0) -> None:
        self.service = RegistryService(registry)
        self.host, self.port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> RegistryApi:
        handler = type("Handler", (_Handler,), {"service": self.service})
        self._server = ThreadingHTTPServer((self.host, self.port), handler)  # port 0: the kernel picks a free one
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),  # stop() waits one poll
                                        name="schema-registry-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> RegistryApi:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def api_file(data_dir: Path) -> Path:
    """Where the API's URL is recorded: next to the embedded broker's bootstrap.json."""
    return data_dir / "broker" / "schema-registry-api.json"


def running_registry_api(data_dir: Path) -> str | None:
    """URL of the Schema Registry API a live process serves for this data directory, if any."""
    try:
        info = json.loads(api_file(data_dir).read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(info["url"])


@contextmanager
def serve_local_registry(data_dir: Path) -> Iterator[RegistryApi]:
    """Serve the data directory's local registry and advertise its URL there, until the block ends."""
    with RegistryApi(local_registry(data_dir)) as api:
        path = api_file(data_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"url": api.url, "pid": os.getpid()}))
        try:
            yield api
        finally:
            path.unlink(missing_ok=True)
