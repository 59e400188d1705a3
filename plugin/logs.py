"""Logging for people: one line per event in ``docker logs``, colours on a terminal.

A container's log is read with ``docker logs`` or a NAS's log viewer, a line at a time and often
filtered with grep: every record is one line with its time, level and source, and an error's traceback
is folded into that line (the full traceback is logged at DEBUG, for bug reports). Secrets never reach a
log record in the first place (settings hold them as ``SecretStr``, URLs with credentials are refused).
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from typing import Literal

from rich.console import Console
from rich.logging import RichHandler

LogFormat = Literal["auto", "plain", "pretty"]

# Libraries whose INFO lines are noise next to piccl's own.
_QUIET = {
    "PIL": logging.CRITICAL,  # decoder complaints about broken files: piccl records those per photo
    "alembic": logging.WARNING,
    "httpx": logging.WARNING,  # one line per WebDAV request; failures are reported by piccl itself
    # The settle check runs every second; APScheduler would log each run, and each run it skips while a
    # long scan holds the previous one (by design: coalesced).
    "apscheduler": logging.ERROR,
    "waitress.queue": logging.ERROR,  # "task queue depth" warnings while thumbnails load
    "watchdog": logging.WARNING,
}


class OneLineFormatter(logging.Formatter):
    """``2026-12-02 02:30:00 WARNING piccl.watch: message``, exceptions folded into the same line."""

    def __init__(self, full_tracebacks: bool) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%d %H:%M:%S")
        self.full_tracebacks = full_tracebacks

    def format(self, record: logging.LogRecord) -> str:
        exc_info, record.exc_info, record.exc_text = record.exc_info, None, None
        name = record.name
        # piccl's modules live in the package "plugin"; "piccl.watch" says whose line it is.
        record.name = "piccl." + name.removeprefix("plugin.") if name.startswith("plugin.") else name
        try:
            line = super().format(record)
        finally:
            record.exc_info, record.name = exc_info, name
        if exc_info and exc_info[1] is not None:
            line += f" ({_one_line_exception(exc_info[1])})"
            if self.full_tracebacks:
                line += "\n" + "".join(traceback.format_exception(*exc_info)).rstrip()
        # A message carrying newlines (a server's error page, a file name) must not split the event.
        head, sep, tail = line.partition("\nTraceback")
        return head.replace("\r", "\\r").replace("\n", " | ") + (sep + tail if sep else "")


def _one_line_exception(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def configure_logging(level: str = "INFO", fmt: LogFormat = "auto", console: Console | None = None) -> None:
    """Set up the root logger (again: the settings may change what the command line set first)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    pretty = fmt == "pretty" or (fmt == "auto" and sys.stderr.isatty())
    handler: logging.Handler
    if pretty:
        handler = RichHandler(console=console or Console(stderr=True), show_path=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(OneLineFormatter(full_tracebacks=level == "DEBUG"))
    root.addHandler(handler)
    root.setLevel(level)
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(quiet)
    # Python's warnings and an exception that ends a thread would print their own multi-line text.
    logging.captureWarnings(True)
    threading.excepthook = _log_thread_exception


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    thread = args.thread.name if args.thread is not None else "a thread"
    exc_info = (args.exc_type, args.exc_value, args.exc_traceback)
    logging.getLogger("piccl").error("%s stopped on an error", thread, exc_info=exc_info)  # type: ignore[arg-type]
