"""What a running worker shares between its agents: settings, codec, policy, metrics and the rules' Context."""

from __future__ import annotations

from dataclasses import dataclass

from agents.rules.journey import Context
from agents.rules.policy import Policy
from agents.rules.pseudonyms import Pseudonyms
from pipeline.metrics import Metrics
from pipeline.policies import load_policy
from pipeline.settings import Settings
from pipeline.wire.codec import Codec
from pipeline.wire.registry import registry_from_settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    codec: Codec
    policy: Policy
    metrics: Metrics

    @property
    def context(self) -> Context:
        return Context(link_secret=self.settings.link_secret, pseudonyms=Pseudonyms(self.settings.pseudonym_secret))

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Metrics | None = None) -> Runtime:
        registry = registry_from_settings(settings.schema_registry_url, settings.data_dir)
        return cls(
            settings=settings,
            codec=Codec(registry, schemas_dir=settings.schemas_dir, register=settings.register_schemas,
                        inline_lookups=False),  # agents resolve new schema ids in a thread
            policy=load_policy(settings.policy_path, settings.declines_path),
            metrics=metrics or Metrics(),
        )
