"""Form posts → the control-plane API's bodies, and API/validation problems → form fields (pure)."""

from __future__ import annotations

import pytest

from gitops_agent.agent.http.ui_forms import (
    FormError,
    add_problem,
    create_body,
    env_text,
    parse_form,
    revision_body,
)
from gitops_agent.agent.http.ui_pages import NEW_FIELDS, REVISION_FIELDS


def test_the_new_deployment_form_becomes_the_create_body() -> None:
    form = parse_form(
        b"name=bot&image=ghcr.io%2Fa%2Fbot%3A1&type=&path=%2Fbot&postgres=external"
        b"&postgres_secret=pg%2Furi&redis=managed&replicas=&min=2&max=5&target_cpu=&cpu=500m"
        b"&env=A%3D1%0D%0A%23+comment%0D%0AB%3Dx%3Dy&secret_env=KEY%3Dsecrets%2Fapi-key&queue=on"
    )
    assert create_body(form) == {
        "name": "bot",
        "image": "ghcr.io/a/bot:1",
        "path": "/bot",
        "cpu": "500m",
        "managedPostgres": False,
        "postgresSecret": {"name": "pg", "key": "uri"},
        "autoscaling": {"min": 2, "max": 5},
        "env": {"A": "1", "B": "x=y"},
        "secretEnv": {"KEY": {"name": "secrets", "key": "api-key"}},
        "queue": True,
    }


def test_what_cannot_be_read_is_named_on_its_field() -> None:
    form = {"name": "bot", "image": "i", "replicas": "two", "env": "A=1\nnonsense\nA=2",
            "postgres": "external", "postgres_secret": "no-slash", "secret_env": "K=plain"}  # fmt: skip
    with pytest.raises(FormError) as caught:
        create_body(form)
    fields = caught.value.fields
    assert fields["replicas"] == ["'two' is not a whole number"]
    assert fields["env"] == ["line 2: write NAME=value", "line 3: A is given twice"]
    assert fields["postgres_secret"] == ["give the Secret holding the URI as `secret-name/key`"]
    assert fields["secret_env"] == ["K: write NAME=secret-name/key"]


def test_the_revision_form_sends_only_what_changed() -> None:
    current = {"LOG_LEVEL": "debug", "MODE": "a", "OLD": "1"}
    form = {"image": "img:2", "env": "LOG_LEVEL=debug\nMODE=b\nNEW=x\n", "replicas": "", "max": "4"}
    assert revision_body(form, "img:1", current) == {
        "image": "img:2",
        "env": {"MODE": "b", "NEW": "x"},
        "unsetEnv": ["OLD"],
        "scale": {"max": 4},
    }
    unchanged = {"image": "img:1", "env": env_text(current)}
    with pytest.raises(FormError) as caught:
        revision_body(unchanged, "img:1", current)
    assert caught.value.general == ["nothing to change: edit the image, the environment or the scale"]


@pytest.mark.parametrize(
    ("problem", "known", "field", "message"),
    [
        ({"field": "name", "message": "bad"}, NEW_FIELDS, "name", "bad"),
        ({"field": "autoscaling.max", "message": "m"}, NEW_FIELDS, "max", "m"),
        ({"field": "postgresSecret.key", "message": "m"}, NEW_FIELDS, "postgres_secret", "m"),
        ({"field": "scale.targetCPU", "message": "m"}, REVISION_FIELDS, "target_cpu", "m"),
        ({"field": "unsetEnv[0]", "message": "m"}, REVISION_FIELDS, "env", "m"),
        (
            {
                "file": "deployments/bot.yaml",
                "line": 9,
                "column": 5,
                "field": "spec.env.PORT",
                "message": "reserved",
            },
            NEW_FIELDS,
            "env",
            "deployments/bot.yaml:9:5: reserved",
        ),
        (
            {"file": "deployments/bot.yaml", "line": 3, "column": 1, "field": "spec.storage", "message": "m"},
            NEW_FIELDS,
            "",
            "deployments/bot.yaml:3:1: spec.storage: m",
        ),
        ({"field": "path", "message": "m"}, REVISION_FIELDS, "", "path: m"),
    ],
)
def test_problems_land_on_the_field_that_holds_them(
    problem: dict[str, object], known: frozenset[str], field: str, message: str
) -> None:
    errors = FormError()
    add_problem(errors, problem, known)
    assert (errors.fields.get(field, []) if field else errors.general) == [message]
