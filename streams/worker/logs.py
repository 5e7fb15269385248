"""Worker log formats: faust's plain text lines, or one JSON object per line for log shippers.

Chosen with `storywire worker --log-format json` or STORYWIRE_LOG_FORMAT=json.
Each JSON line has `time` (UTC, ISO 8601), `level`, `logger`, `message`,
`pid`, the `exception` text when there is one, and any structured fields the
code passed with `extra=` (the counter lines carry `counters`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import orjson

FORMATS = ("text", "json")

# Attributes every LogRecord has: anything else on a record came from `extra=` and is worth keeping.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside values are escaped by JSON)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in out:
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(out, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()


def logging_config(log_format: str, level: str) -> dict | None:
    """A logging.config dict for the worker (mode.Worker's `logging_config`), or None for faust's own text."""
    if log_format not in FORMATS:
        raise ValueError(f"unknown log format {log_format!r}: use one of {', '.join(FORMATS)}")
    if log_format == "text":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["default"]},
    }
