"""Diffs never show a credential: Secret values, and plain env values shaped like credentials."""

from __future__ import annotations

from typing import Any

from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.diff import yaml_diff

KEY = ObjectKey("apps/v1", "Deployment", "agents", "bot")


def _deployment(env: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "bot", "namespace": "agents"},
        "spec": {"template": {"spec": {"containers": [{"name": "api", "image": "bot:1", "env": env}]}}},
    }


def test_credential_shaped_env_values_are_masked_and_a_change_still_shows() -> None:
    old_key, new_key = "sk-proj-" + "a" * 30, "sk-proj-" + "b" * 30
    before = _deployment(
        [{"name": "OPENAI_API_KEY", "value": old_key}, {"name": "LOG_LEVEL", "value": "info"}]
    )
    after = _deployment(
        [{"name": "OPENAI_API_KEY", "value": new_key}, {"name": "LOG_LEVEL", "value": "debug"}]
    )
    diff = yaml_diff(KEY, before, after)
    assert old_key not in diff and new_key not in diff
    assert "-          value: '***'" in diff and "+          value: '*** (changed)'" in diff
    assert "-          value: info" in diff and "+          value: debug" in diff  # ordinary values stay


def test_a_new_object_with_a_credential_env_value_is_masked_too() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    diff = yaml_diff(KEY, None, _deployment([{"name": "AWS_SECRET_ACCESS_KEY", "value": secret}]))
    assert secret not in diff and "value: '***'" in diff
