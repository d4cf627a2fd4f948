"""Schema registries: where schema ids in the Confluent wire format come from.

- ConfluentRegistry: a Confluent-compatible Schema Registry over its REST API (SCHEMA_REGISTRY_URL).
- LocalRegistry: a JSON file in the data directory, for the embedded broker; safe to share between processes.
Subjects follow TopicRecordNameStrategy, `<topic>-<namespace>.<Name>`, since a topic carries several record types.
"""

from __future__ import annotations

import fcntl
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from pipeline.errors import RegistryError


class SchemaRegistry(Protocol):
    def register(self, subject: str, schema: str) -> int: ...
    def get_schema(self, schema_id: int) -> str: ...


def subject_for(topic: str, fullname: str) -> str:
    return f"{topic}-{fullname}"


def _canonical(schema: str) -> str:
    return json.dumps(json.loads(schema), sort_keys=True, separators=(",", ":"))


class LocalRegistry:
    """Ids kept in one JSON file: {"schemas": {id: schema}, "subjects": {subject: [ids]}}. Same schema, same id."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._by_id: dict[int, str] = {}
        self._by_schema: dict[str, int] = {}

    @contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, object]]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                doc = json.loads(self.path.read_text()) if self.path.exists() else {"schemas": {}, "subjects": {}}
                yield doc
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self, doc: dict[str, dict[str, object]]) -> None:
        for sid, schema in doc["schemas"].items():
            self._by_id[int(sid)] = str(schema)
            self._by_schema[_canonical(str(schema))] = int(sid)

    def register(self, subject: str, schema: str) -> int:
        canon = _canonical(schema)
        if canon in self._by_schema:
            return self._by_schema[canon]
        with self._locked() as doc:
            self._load(doc)
            sid = self._by_schema.get(canon)
            if sid is None:
                sid = max((int(k) for k in doc["schemas"]), default=0) + 1
                doc["schemas"][str(sid)] = schema
                subjects = doc["subjects"]
                subjects[subject] = [*list(subjects.get(subject, [])), sid]  # type: ignore[call-overload]
                tmp = self.path.with_suffix(f".tmp{os.getpid()}")
                tmp.write_text(json.dumps(doc, indent=1))
                os.replace(tmp, self.path)
                self._by_id[sid], self._by_schema[canon] = schema, sid
            return sid

    def get_schema(self, schema_id: int) -> str:
        if schema_id not in self._by_id:
            with self._locked() as doc:
                self._load(doc)
        try:
            return self._by_id[schema_id]
        except KeyError:
            raise RegistryError(f"schema id {schema_id} is not in {self.path}") from None


class ConfluentRegistry:
    """A Confluent-compatible Schema Registry: POST /subjects/{s}/versions, GET /schemas/ids/{id}."""

    CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._by_id: dict[int, str] = {}
        self._ids: dict[tuple[str, str], int] = {}

    def _call(self, method: str, path: str, body: dict[str, str] | None = None) -> dict[str, object]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method,  # noqa: S310 (configured URL)
                                     headers={"Content-Type": self.CONTENT_TYPE, "Accept": self.CONTENT_TYPE})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                return dict(json.loads(resp.read()))
        except urllib.error.HTTPError as err:
            raise RegistryError(f"schema registry {method} {path}: HTTP {err.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise RegistryError(f"schema registry at {self.url} unreachable: {err}") from None

    def register(self, subject: str, schema: str) -> int:
        key = (subject, _canonical(schema))
        if key not in self._ids:
            answer = self._call("POST", f"/subjects/{urllib.parse.quote(subject, safe='')}/versions",
                                {"schema": schema})
            sid = int(str(answer["id"]))
            self._ids[key] = sid
            self._by_id[sid] = schema
        return self._ids[key]

    def get_schema(self, schema_id: int) -> str:
        if schema_id not in self._by_id:
            self._by_id[schema_id] = str(self._call("GET", f"/schemas/ids/{schema_id}")["schema"])
        return self._by_id[schema_id]


def registry_from_settings(url: str | None, data_dir: Path) -> SchemaRegistry:
    return ConfluentRegistry(url) if url else LocalRegistry(data_dir / "schema-registry.json")
