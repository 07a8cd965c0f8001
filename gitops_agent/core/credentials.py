"""Plain values that look like credentials: warned about by `validate`, masked in diffs.

A credential in a plain `env` value lives in Git and in the rendered Deployment for everyone who can
read either; it belongs in a Secret (`secretEnv`, or `valueFrom.secretKeyRef`). Detection is by the
shape of well-known key formats, and by a variable name that says "secret" carrying a value that is
not obviously a setting. It is a heuristic: it warns, it never refuses.
"""

from __future__ import annotations

import re

_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (what, re.compile(pattern))
    for what, pattern in (
        ("an Anthropic API key", r"^sk-ant-[A-Za-z0-9_-]{20,}$"),
        ("an OpenAI API key", r"^sk-(proj-|svcacct-)?[A-Za-z0-9_-]{20,}$"),
        ("a LangSmith API key", r"^lsv2_(pt|sk)_[A-Za-z0-9_]{20,}$"),
        ("an AWS access key id", r"^(AKIA|ASIA)[A-Z0-9]{16}$"),
        ("a GitHub token", r"^(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}$|^github_pat_[A-Za-z0-9_]{40,}$"),
        ("a Slack token", r"^xox[abposr]-[A-Za-z0-9-]{10,}$"),
        ("a Google API key", r"^AIza[0-9A-Za-z_-]{35}$"),
        ("a private key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
        ("a JSON Web Token", r"^eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}$"),
    )
)
_SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|SECRET|SECRET_KEY|SECRET_ACCESS_KEY|TOKEN|API_?KEY|PRIVATE_KEY|CREDENTIALS?)$", re.I
)
_SETTING = re.compile(r"^(true|false|yes|no|on|off|none|null|\d+|[a-z]+://\S*|/\S*|\$\(.*\))$", re.I)
"""Values a secret-sounding variable may hold without being a secret: flags, numbers, URLs, paths,
`$(VAR)` references."""


def credential_kind(name: str, value: str) -> str | None:
    """What `value` (of variable `name`) looks like when it looks like a credential; None otherwise."""
    for what, shape in _SHAPES:
        if shape.search(value):
            return what
    if _SECRET_NAME.search(name) and len(value) >= 12 and not _SETTING.match(value) and " " not in value:
        return f"a secret (the name {name} says so)"
    return None
