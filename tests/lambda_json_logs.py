"""Lambda's JSON log format, as the Python runtime writes it, to check our log lines against.

A faithful copy of ``JsonFormatter.format`` in awslambdaric's ``lambda_runtime_log_utils.py``
(github.com/aws/aws-lambda-python-runtime-interface-client), which the managed Python runtimes
install when the function's ``LoggingConfig`` says ``LogFormat: JSON``: the standard keys, the
request id, and every other attribute of the record (a log call's ``extra``) as a top-level
key, None values dropped. Only the parts our lines exercise are kept.
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

_RESERVED_FIELDS = {
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module",
    "exc_info", "exc_text", "stack_info", "lineno", "funcName", "created", "msecs",
    "relativeCreated", "thread", "threadName", "processName", "process", "aws_request_id",
    "tenant_id", "_frame_type",
}  # fmt: skip


class RuntimeJsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(datefmt="%Y-%m-%dT%H:%M:%SZ")

    def format(self, record: logging.LogRecord) -> str:
        exc_info = record.exc_info
        result: dict[str, Any] = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "stackTrace": traceback.format_tb(exc_info[2]) if exc_info else None,
            "errorType": exc_info[0].__name__ if exc_info and exc_info[0] else None,
            "errorMessage": str(exc_info[1]) if exc_info else None,
            "requestId": getattr(record, "aws_request_id", None),
        }
        result.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in _RESERVED_FIELDS and key not in result
        )
        result = {k: v for k, v in result.items() if v is not None}
        return json.dumps(result, default=str) + "\n"


def as_lambda_writes_it(record: logging.LogRecord) -> dict[str, Any]:
    """The JSON object Lambda logs for ``record``."""
    line = RuntimeJsonFormatter().format(record)
    assert line.count("\n") == 1
    assert line.endswith("\n")
    parsed: dict[str, Any] = json.loads(line)
    return parsed
