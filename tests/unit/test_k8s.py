"""The Kubernetes manifests in deploy/kubernetes/: valid against the Kubernetes schemas, complete, consistent.

Built-in kinds go through `kubernetes-validate` (its bundled schemas, strict: unknown fields fail). Strimzi's
KafkaTopic is not in that bundle, so `kafka_topic_errors` checks the fields Strimzi's CRD requires and this
project relies on. The generated files (topics, policy ConfigMap) must match tools/gen_k8s.py's output.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from pipeline.settings import Settings
from pipeline.topics import ALL_TOPICS
from tools.gen_k8s import PARTITIONS, REPLICAS, changelog_topics

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
K8S_VERSION = "1.37.0"  # the newest schemas kubernetes-validate 1.37 bundles
MANIFESTS = sorted(KUBERNETES.rglob("*.yaml"))


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def everything() -> list[dict[str, Any]]:
    return [d for path in MANIFESTS for d in documents(path)]


def one(kind: str) -> dict[str, Any]:
    (found,) = [d for d in everything() if d["kind"] == kind]
    return found


def kafka_topic_errors(doc: dict[str, Any]) -> list[str]:
    """A JSON-schema-style check of a Strimzi v1beta2 KafkaTopic (the CRD's required shape, plus our needs)."""
    errors = []
    if doc.get("apiVersion") != "kafka.strimzi.io/v1beta2":
        errors.append(f"apiVersion {doc.get('apiVersion')!r}")
    name = (doc.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name or len(name) > 253 or name != name.lower() or "_" in name:
        errors.append(f"metadata.name {name!r} is not an RFC 1123 name")
    if not (doc.get("metadata") or {}).get("labels", {}).get("strimzi.io/cluster"):
        errors.append("no strimzi.io/cluster label: the topic operator would ignore it")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        return [*errors, "no spec"]
    unknown = set(spec) - {"partitions", "replicas", "config", "topicName"}
    errors += [f"unknown spec field {f!r}" for f in sorted(unknown)]
    for field in ("partitions", "replicas"):
        if not isinstance(spec.get(field), int) or isinstance(spec.get(field), bool) or spec[field] < 1:
            errors.append(f"spec.{field} must be an integer >= 1")
    config = spec.get("config")
    if not isinstance(config, dict) or not all(isinstance(v, str | int) for v in config.values()):
        errors.append("spec.config must map names to strings or integers")
    if "topicName" in spec and not isinstance(spec["topicName"], str):
        errors.append("spec.topicName must be a string")
    return errors


def topic_name(doc: dict[str, Any]) -> str:
    return str(doc["spec"].get("topicName", doc["metadata"]["name"]))


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(KUBERNETES)))
def test_every_manifest_is_valid(path: Path) -> None:
    for doc in documents(path):
        if doc["kind"] == "KafkaTopic":
            assert kafka_topic_errors(doc) == [], doc["metadata"]
        else:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validator_rejects_an_unknown_field() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"portz": []}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(service, K8S_VERSION, strict=True)


def test_the_topic_check_rejects_what_strimzi_would() -> None:
    bad = {"apiVersion": "kafka.strimzi.io/v1beta1", "kind": "KafkaTopic", "metadata": {"name": "Bad_Name"},
           "spec": {"partitions": 0, "replica": 3}}
    errors = kafka_topic_errors(bad)
    assert [e.split()[0] for e in errors] == ["apiVersion", "metadata.name", "no", "unknown", "spec.partitions",
                                             "spec.replicas", "spec.config"]


def test_every_topic_and_changelog_has_a_kafka_topic_replicated_three_times() -> None:
    topics = {topic_name(d): d["spec"] for d in everything() if d["kind"] == "KafkaTopic"}
    changelogs = changelog_topics(Settings().app_id)
    assert set(ALL_TOPICS) | set(changelogs) <= set(topics)
    assert all(spec["replicas"] == REPLICAS == 3 for spec in topics.values())
    for name in ALL_TOPICS:
        assert topics[name]["partitions"] == PARTITIONS
        assert topics[name]["config"]["cleanup.policy"] == "delete" and topics[name]["config"]["retention.ms"] > 0
    for name in changelogs:
        assert topics[name]["partitions"] == PARTITIONS and topics[name]["config"]["cleanup.policy"] == "compact"


def test_the_generated_manifests_are_up_to_date() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_k8s.py"), "--check"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


def worker_container() -> dict[str, Any]:
    (container,) = one("StatefulSet")["spec"]["template"]["spec"]["containers"]
    return dict(container)


def env() -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in worker_container()["env"]}


def test_the_worker_runs_unprivileged_on_a_read_only_root_with_data_and_tmp_writable() -> None:
    pod = one("StatefulSet")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001 and pod["securityContext"]["runAsNonRoot"]
    container = worker_container()
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert not mounts["/data"].get("readOnly") and not mounts["/tmp"].get("readOnly")  # noqa: S108 - in the pod
    claims = [c["metadata"]["name"] for c in one("StatefulSet")["spec"]["volumeClaimTemplates"]]
    assert mounts["/data"]["name"] in claims
    assert env()["JOURNEY_DATA_DIR"] == "/data"


def test_probes_ask_the_web_port_for_metrics() -> None:
    container = worker_container()
    (port,) = container["ports"]
    assert int(env()["JOURNEY_WEB_PORT"]) == port["containerPort"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/metrics", "port": port["name"]}


def test_the_policy_files_are_the_mounted_config_map() -> None:
    container = worker_container()
    volumes = {v["name"]: v for v in one("StatefulSet")["spec"]["template"]["spec"]["volumes"]}
    config_map = one("ConfigMap")
    for variable in ("JOURNEY_POLICY", "JOURNEY_DECLINES"):
        path = Path(env()[variable])
        (mount,) = [m for m in container["volumeMounts"] if Path(m["mountPath"]) == path.parent]
        assert volumes[mount["name"]]["configMap"]["name"] == config_map["metadata"]["name"]
        assert path.name in config_map["data"]


def test_secrets_are_referenced_and_the_example_names_every_key() -> None:
    refs = [v["secretKeyRef"] for v in env().values() if isinstance(v, dict) and "secretKeyRef" in v]
    assert refs, "JOURNEY_LINK_SECRET comes from a Secret"
    secrets = [d for d in everything() if d["kind"] == "Secret"]
    # a Secret with a placeholder value is an example only: `kubectl apply -f deploy/kubernetes/` never applies it
    assert {p.parent.name for p in MANIFESTS for d in documents(p) if d["kind"] == "Secret"} == {"examples"}
    for ref in refs:
        (secret,) = [s for s in secrets if s["metadata"]["name"] == ref["name"]]
        assert ref["key"] in secret["stringData"]


def test_the_worker_agrees_with_the_topics_on_partitions_and_reads_only_known_settings() -> None:
    assert int(env()["JOURNEY_PARTITIONS"]) == PARTITIONS
    settings_source = (ROOT / "pipeline" / "settings.py").read_text()
    for name in env():
        assert name == "PYTHONDONTWRITEBYTECODE" or f'"{name}"' in settings_source, name


def test_the_service_and_disruption_budget_select_the_worker_pods() -> None:
    labels = one("StatefulSet")["spec"]["template"]["metadata"]["labels"]
    for doc in (one("Service")["spec"]["selector"], one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"]):
        assert doc.items() <= labels.items()
    assert one("StatefulSet")["spec"]["serviceName"] == one("Service")["metadata"]["name"]
