"""Structured logs: JSON lines (or plain text) with the deployment, commit and revision in every line.

The context travels in contextvars, so a line logged deep inside the sync of one deployment carries
that deployment's name without every function passing it along. Values are never secrets: the
agent logs names, commits and error texts (which the source and kube layers scrub of credentials).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("log_context", default={})  # noqa: B039

LOGGER_NAME = "gitops_agent"


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add fields (deployment=..., commit=..., revision=...) to every line logged inside the block."""
    token = _context.set({**_context.get(), **{k: str(v) for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, message, context fields, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
            **_context.get(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """`time level msg key=value ...` for terminals."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {**_context.get(), **getattr(record, "fields", {})}
        tail = " ".join(f"{k}={v}" for k, v in fields.items())
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        text = f"{stamp} {record.levelname:<7} {record.getMessage()}" + (f"  {tail}" if tail else "")
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a line is logged, not when the handler was made.

    A process that swaps stderr (a test runner capturing output, an embedding program) would
    otherwise leave the agent's background threads writing to a closed stream.
    """

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # emit runs under the handler's lock
        super().emit(record)


def setup_logging(fmt: str = "json", level: str = "info") -> logging.Logger:
    """Configure the project's logger (idempotent)."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers.clear()
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    return logger


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}")


def fields(**values: object) -> dict[str, dict[str, object]]:
    """`log.info("msg", extra=fields(units=3))` adds structured fields to one line."""
    return {"fields": dict(values)}
