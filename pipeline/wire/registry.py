"""Schema registries: where the schema ids of the Confluent wire format come from.

- ConfluentRegistry: a Confluent-compatible Schema Registry over its REST API (SCHEMA_REGISTRY_URL).
- LocalRegistry: a JSON file in the data directory, for the embedded broker; safe to share between processes.
Subjects follow TopicRecordNameStrategy, `<topic>-<namespace>.<Name>`: one topic carries several record types.
Both give the same schema the same id (compared in a canonical JSON form), as Confluent's registry does.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pipeline.errors import RegistryError, SchemaNotFound


class SchemaRegistry(Protocol):
    def register(self, subject: str, schema: str) -> int: ...
    def get_schema(self, schema_id: int) -> str: ...


@runtime_checkable
class LookupRegistry(SchemaRegistry, Protocol):
    """A registry that can also find the id a schema already has under a subject, registering nothing."""

    def lookup_id(self, subject: str, schema: str) -> int:
        """The id; SchemaNotFound when the schema is not registered under the subject."""
        ...


def subject_for(topic: str, fullname: str) -> str:
    """TopicRecordNameStrategy: `payments-paymentjourney.PaymentAttempted`."""
    return f"{topic}-{fullname}"


def _canonical(schema: str) -> str:
    try:
        return json.dumps(json.loads(schema), sort_keys=True, separators=(",", ":"))
    except ValueError:
        raise RegistryError("a schema is not valid JSON") from None


class LocalRegistry:
    """Ids kept in one JSON file: {"schemas": {id: schema}, "subjects": {subject: [ids]}, "config": {...}}.

    A subject's list holds its versions in order: version n is the n-th id. The optional "config" holds the
    compatibility levels set through the Schema Registry API ({"compatibility": LEVEL, "subjects": {subject:
    LEVEL}}); files without it, as earlier versions wrote them, read the same. The file only grows: an id, once
    given, names its schema for good. Writers take an exclusive fcntl lock on a sibling `.lock` file, re-read, and
    replace the file atomically, so a worker and `journey publish` never hand out the same id twice. Readers need no
    lock: a replaced file is always whole.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._by_id: dict[int, str] = {}
        self._by_schema: dict[str, int] = {}  # canonical schema -> id
        self._subjects: dict[str, list[int]] = {}
        self._config: dict[str, Any] = {}
        self._loaded = False

    def register(self, subject: str, schema: str) -> int:
        canon = _canonical(schema)
        if not self._loaded:
            self._read()
        sid = self._by_schema.get(canon)
        if sid is not None and sid in self._subjects.get(subject, ()):
            return sid
        with self._locked():
            doc = self._read()
            sid = self._by_schema.get(canon)
            if sid is None:
                sid = max(self._by_id, default=0) + 1
                doc["schemas"][str(sid)] = schema
            versions = doc["subjects"].setdefault(subject, [])
            if sid not in versions:
                versions.append(sid)
                self._write(doc)
                self._read()
        return sid

    def get_schema(self, schema_id: int) -> str:
        if schema_id not in self._by_id:
            self._read()  # another process may have registered it since we last looked
        try:
            return self._by_id[schema_id]
        except KeyError:
            raise SchemaNotFound(f"schema id {schema_id} is not in {self.path}") from None

    # ---- what the Schema Registry API (registry_api.py) serves; each call reads the file's latest state

    def subjects(self) -> list[str]:
        self._read()
        return sorted(self._subjects)

    def versions(self, subject: str) -> list[int]:
        """The subject's schema ids, version 1 first; empty for an unknown subject."""
        self._read()
        return list(self._subjects.get(subject, ()))

    def lookup(self, subject: str, schema: str) -> tuple[int, int] | None:
        """(version, id) of a schema under a subject, compared in canonical form; None when it is not there."""
        canon = _canonical(schema)
        self._read()
        sid = self._by_schema.get(canon)
        versions = self._subjects.get(subject, [])
        return (versions.index(sid) + 1, sid) if sid in versions else None

    def lookup_id(self, subject: str, schema: str) -> int:
        found = self.lookup(subject, schema)
        if found is None:
            raise SchemaNotFound(f"the schema is not registered under subject {subject}")
        return found[1]

    def subjects_of(self, schema_id: int) -> list[str]:
        self._read()
        return sorted(s for s, ids in self._subjects.items() if schema_id in ids)

    def compatibility(self, subject: str | None = None) -> str | None:
        """The level set for a subject (None when unset), or the global level (None: the default)."""
        self._read()
        levels = self._config if subject is None else self._config.get("subjects", {})
        level = levels.get("compatibility" if subject is None else subject)
        return str(level) if level else None

    def set_compatibility(self, level: str, subject: str | None = None) -> None:
        with self._locked():
            doc = self._read()
            config = doc.setdefault("config", {})
            if subject is None:
                config["compatibility"] = level
            else:
                config.setdefault("subjects", {})[subject] = level
            self._write(doc)
            self._read()

    def _read(self) -> dict[str, Any]:
        """The file's document; also brings the in-memory maps up to date with it."""
        try:
            doc = json.loads(self.path.read_text())
        except FileNotFoundError:
            doc = {"schemas": {}, "subjects": {}}
        except (OSError, ValueError) as err:
            problem = f"is unreadable ({type(err).__name__})"
            raise RegistryError(f"local schema registry {self.path} {problem}") from None
        try:
            schemas = {int(k): str(v) for k, v in doc["schemas"].items()}
            self._subjects = {str(k): [int(i) for i in v] for k, v in doc.setdefault("subjects", {}).items()}
            self._config = dict(doc.get("config", {}))
        except (AttributeError, KeyError, TypeError, ValueError):
            raise RegistryError(f"local schema registry {self.path} is not a registry file") from None
        changed = any(self._by_id.get(sid, text) != text for sid, text in schemas.items())
        if changed or len(schemas) < len(self._by_id):
            self._by_id, self._by_schema = {}, {}  # the file was replaced under us: start over from it
        for sid, text in schemas.items():
            if sid not in self._by_id:  # canonicalising is the slow part: only new ids
                self._by_id[sid] = text
                self._by_schema[_canonical(text)] = sid
        self._loaded = True
        return doc

    def _write(self, doc: dict[str, Any]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w") as fh:
            json.dump(doc, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())  # ids are referenced by bytes already in Kafka: they must survive a crash
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


class ConfluentRegistry:
    """A Confluent-compatible Schema Registry: POST /subjects/{s}/versions (register), POST /subjects/{s} (look up
    the id a schema has, for a registry that refuses registrations), GET /schemas/ids/{id}.

    Credentials may ride in the URL (`https://key:secret@host`); they are sent as HTTP basic auth and never
    appear in error messages. Both directions are cached: ids never change meaning in a registry.
    """

    CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RegistryError("schema registry URL must be http:// or https:// with a host")
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.url = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        self.timeout = timeout
        self._headers = {"Content-Type": self.CONTENT_TYPE, "Accept": self.CONTENT_TYPE}
        if parts.username:
            user = urllib.parse.unquote(parts.username)
            secret = urllib.parse.unquote(parts.password or "")
            token = base64.b64encode(f"{user}:{secret}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._by_id: dict[int, str] = {}
        self._ids: dict[tuple[str, str], int] = {}

    def __repr__(self) -> str:
        return f"ConfluentRegistry({self.url!r})"

    def register(self, subject: str, schema: str) -> int:
        key = (subject, _canonical(schema))
        if key not in self._ids:
            path = f"/subjects/{urllib.parse.quote(subject, safe='')}/versions"
            answer = self._call("POST", path, {"schema": schema})
            sid = answer.get("id")
            if not isinstance(sid, int):
                raise RegistryError(f"schema registry POST {path}: answer has no integer id")
            self._ids[key] = sid
            self._by_id[sid] = schema
        return self._ids[key]

    def lookup_id(self, subject: str, schema: str) -> int:
        key = (subject, _canonical(schema))
        if key not in self._ids:
            path = f"/subjects/{urllib.parse.quote(subject, safe='')}"
            answer = self._call("POST", path, {"schema": schema}, lookup=True)
            sid = answer.get("id")
            if not isinstance(sid, int):
                raise RegistryError(f"schema registry POST {path}: answer has no integer id")
            self._ids[key] = sid
            self._by_id[sid] = schema
        return self._ids[key]

    def get_schema(self, schema_id: int) -> str:
        if schema_id not in self._by_id:
            path = f"/schemas/ids/{schema_id}"
            schema = self._call("GET", path).get("schema")
            if not isinstance(schema, str):
                raise RegistryError(f"schema registry GET {path}: answer has no schema")
            self._by_id[schema_id] = schema
        return self._by_id[schema_id]

    def _call(self, method: str, path: str, body: dict[str, str] | None = None,
              lookup: bool = False) -> dict[str, Any]:
        """`lookup`: a 404 means "not there" (SchemaNotFound), as for every GET; 40401 no such subject, 40403 no
        such schema under it."""
        data = json.dumps(body).encode() if body is not None else None
        # S310: the scheme was checked to be http(s) in __init__
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method,  # noqa: S310
                                     headers=self._headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                answer = json.loads(resp.read())
        except urllib.error.HTTPError as err:
            detail = _error_detail(err)
            if err.code == 404 and (method == "GET" or lookup):
                raise SchemaNotFound(f"schema registry {method} {path}: HTTP 404{detail}") from None
            raise RegistryError(f"schema registry {method} {path}: HTTP {err.code}{detail}") from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise RegistryError(f"schema registry at {self.url} unreachable: {reason}") from None
        except ValueError:
            raise RegistryError(f"schema registry {method} {path}: answer is not JSON") from None
        if not isinstance(answer, dict):
            raise RegistryError(f"schema registry {method} {path}: answer is not a JSON object")
        return answer


def _error_detail(err: urllib.error.HTTPError) -> str:
    """Confluent's error body, {"error_code": 40403, "message": "Schema not found"}, shortened."""
    try:
        body = json.loads(err.read() or b"{}")
    except (OSError, ValueError):
        return ""
    if not isinstance(body, dict) or "message" not in body:
        return ""
    return f" (error {body.get('error_code', '?')}: {str(body['message'])[:200]})"


def local_registry(data_dir: Path) -> LocalRegistry:
    return LocalRegistry(data_dir / "schema-registry.json")


def registry_from_settings(url: str | None, data_dir: Path) -> SchemaRegistry:
    return ConfluentRegistry(url) if url else local_registry(data_dir)
