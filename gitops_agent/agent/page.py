"""The status page: server-rendered HTML, no scripts from elsewhere (works offline).

Everything that comes from the repository (names, commit messages, errors, diffs) is HTML-escaped.
"""

from __future__ import annotations

import html
from typing import Any


def render_index(overview: dict[str, Any], deployments: list[dict[str, Any]]) -> str:
    """The deployments table."""
    rows = "".join(
        f"<tr><td><a href='/deployments/{html.escape(d['name'])}'>{html.escape(d['name'])}</a></td>"
        f"<td>{html.escape(str(d['revision'] or ''))}</td><td>{html.escape(d['commit'][:12])}</td>"
        f"<td>{html.escape(d['sync_state'])}</td><td>{html.escape(d['health'])}</td>"
        f"<td>{html.escape(d['last_error'] or d['note'])}</td></tr>"
        for d in deployments
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>gitops-agent</title></head><body>"
        "<h1>gitops-agent</h1><table><thead><tr><th>Deployment</th><th>Revision</th><th>Commit</th>"
        f"<th>Sync</th><th>Health</th><th>Last error</th></tr></thead><tbody>{rows}</tbody></table>"
        "</body></html>"
    )


def render_detail(deployment: dict[str, Any]) -> str:
    """One deployment: its state, history and last diff."""
    history = "".join(
        f"<tr><td>{r['revision']}</td><td>{html.escape(r['commit'][:12])}</td><td>{html.escape(r['result'])}</td>"
        f"<td>{html.escape(r['message'])}</td></tr>"
        for r in deployment["history"]
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(deployment['name'])}</title>"
        f"</head><body><h1>{html.escape(deployment['name'])}</h1><table>{history}</table>"
        f"<pre>{html.escape(deployment['last_diff'])}</pre></body></html>"
    )
