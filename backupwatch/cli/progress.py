"""What ``-v`` and ``-vv`` show on stderr: the run's progress and logs, never on stdout.

``-v``: backupwatch's own log at INFO, and the progress of the run (``core.progress``): on a
terminal one live line, rewritten in place; elsewhere (a file, a pipe, CI) plain lines. The AWS
SDK's loggers stay at WARNING: its chatter is not progress. ``-vv``: backupwatch's and the
SDK's debug logs too (every request botocore makes).
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from backupwatch.core.progress import Step

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
SDK_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")
"""Silent below WARNING unless ``-vv``."""


class ProgressLine:
    """Shows ``Step``s on ``stream``; does nothing unless ``enabled``.

    On a terminal, one line rewritten with ``\\r`` as counts change, kept (a newline) when the
    next step is of another phase or place, so each phase leaves its last line. Elsewhere,
    one line per step, except that a count in progress is written only every tenth of the way.
    ``close`` ends a live line: call it before anything else is written to the terminal.
    """

    def __init__(self, stream: TextIO, *, enabled: bool = True) -> None:
        self._stream = stream
        self._enabled = enabled
        self._live = enabled and is_terminal(stream)
        self._key: tuple[str, str] | None = None
        self._shown = ""
        """The live line's text; "" when none is on screen."""
        self._tenth = -1
        self._lock = threading.Lock()

    def __call__(self, step: Step) -> None:
        if not self._enabled:
            return
        with self._lock:
            if self._live:
                self._draw(step)
            elif self._due(step):
                self._stream.write(step.text + "\n")
                self._stream.flush()

    def close(self) -> None:
        """End the live line, if any (it stays on screen)."""
        with self._lock:
            if self._shown:
                self._stream.write("\n")
                self._stream.flush()
            self._shown = ""
            self._key = None

    @contextmanager
    def interrupted(self) -> Iterator[None]:
        """Erase the live line while something else is written, then draw it again."""
        with self._lock:
            shown = self._shown
            if shown:
                self._stream.write("\r" + " " * len(shown) + "\r")
            yield
            if shown:
                self._stream.write(shown)
                self._stream.flush()

    def _draw(self, step: Step) -> None:
        key = (step.phase, step.where)
        text = step.text[: max(shutil.get_terminal_size().columns - 1, 20)]
        if self._shown and key != self._key:
            self._stream.write("\n")  # the finished phase keeps its last line
            self._shown = ""
        padding = " " * max(len(self._shown) - len(text), 0)
        self._stream.write(f"\r{text}{padding}")
        self._stream.flush()
        self._key = key
        self._shown = text

    def _due(self, step: Step) -> bool:
        """Plain lines: a count in progress only when it reaches another tenth."""
        if step.done is None or not step.total:
            return True
        tenth = step.done * 10 // step.total
        if 0 < step.done < step.total and tenth <= self._tenth:
            return False
        self._tenth = tenth if step.done < step.total else -1
        return True


class _Handler(logging.StreamHandler[TextIO]):
    """Writes a log record around the live progress line, never through it."""

    def __init__(self, stream: TextIO, line: ProgressLine) -> None:
        super().__init__(stream)
        self._line = line

    def emit(self, record: logging.LogRecord) -> None:
        with self._line.interrupted():
            super().emit(record)


def configure_logging(verbose: int, *, stream: TextIO, line: ProgressLine) -> None:
    """Log to ``stream``: warnings and errors always; ``verbose`` 1 adds backupwatch's INFO,
    2 (or more) backupwatch's and the AWS SDK's DEBUG.

    Like ``logging.basicConfig``, a handler is added only when the root logger has none (a
    host that set up logging keeps its own); the levels are set either way.
    """
    root = logging.getLogger()
    if not root.handlers:
        handler = _Handler(stream, line)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    if verbose <= 0:
        return
    logging.getLogger("backupwatch").setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal (a closed stream is not)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
