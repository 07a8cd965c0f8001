"""Schemathesis fuzzes the live API from its own OpenAPI document: no request may get a 5xx, and
every answer must be documented (status code, content type, body schema).

It runs the CLI against the agent's real socket with the bearer token, so the write operations are
exercised too (valid bodies make real commits on this test's throwaway remote). The agent's loops
are stopped first: fuzzed deployments are committed but not rolled out, which keeps the run light;
the HTTP API and its revision numbering (which reads the cluster) keep working without them.
Phases: the schema's examples, the coverage phase (boundary values, wrong types, other methods)
and 20 fuzzed cases per operation, with a fixed seed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from api_client import API_TOKEN, Api

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


def test_schemathesis_finds_no_server_error(start_api: Callable[..., Api], tmp_path: Path) -> None:
    api = start_api()
    api.running.agent.stop(timeout=10)
    head = api.remote_head()

    command = [
        str(SCHEMATHESIS),
        "run",
        f"{api.running.url}/api/v1/openapi.json",
        "--checks",
        # no 5xx (the acceptance check), and answers as documented: status codes, types, bodies
        "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        "--header",
        f"Authorization: Bearer {API_TOKEN}",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "20",
        "--workers",
        "1",
        "--seed",
        "20240501",
        "--generation-database",
        "none",
        "--request-timeout",
        "60",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""}
    run = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False
    )

    output = run.stdout + run.stderr
    print(output[-2500:])  # the summary, in the test log
    assert run.returncode == 0, output[-12000:]
    assert "No issues found" in output or "passed" in output, output[-4000:]
    assert api.remote_head() != head, "no fuzzed write got through: the write operations were not exercised"
