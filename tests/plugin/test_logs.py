"""Log lines for `docker logs`: one line per event with time, level and source; an error's traceback folded in."""

from __future__ import annotations

import logging
import re
import sys

from plugin.logs import OneLineFormatter


def _record(message: str, name: str = "plugin.watch", exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = None
    if exc is not None:
        try:
            raise exc
        except BaseException:
            exc_info = sys.exc_info()
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, None, exc_info)


def test_an_error_with_a_traceback_is_one_line_naming_the_exception_and_where() -> None:
    # GIVEN an error logged with its exception
    record = _record("scan of /photos failed", exc=OSError(5, "Input/output error"))
    # WHEN it is formatted for docker logs
    line = OneLineFormatter(full_tracebacks=False).format(record)
    # THEN it is one line with the time, level, source, message, exception and place
    assert "\n" not in line
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ERROR piccl\.watch: scan of /photos failed \(OSError: ", line)
    assert "test_logs.py:" in line
    # AND the record itself is left as it was (other handlers see the full traceback)
    assert record.exc_info is not None and record.name == "plugin.watch"


def test_a_message_with_newlines_stays_one_event() -> None:
    # GIVEN a server's multi-line error page in a message
    record = _record("server said: <html>\nBad Gateway\n</html>", name="httpx")
    # WHEN formatted
    line = OneLineFormatter(full_tracebacks=False).format(record)
    # THEN it is one line, other libraries' names unchanged
    assert line.endswith("ERROR httpx: server said: <html> | Bad Gateway | </html>")


def test_debug_level_adds_the_full_traceback_for_bug_reports() -> None:
    # GIVEN an error, formatted at DEBUG level
    line = OneLineFormatter(full_tracebacks=True).format(_record("failed", exc=ValueError("bad")))
    # THEN the first line is the event, the traceback follows it
    first, rest = line.split("\n", 1)
    assert "(ValueError: bad at test_logs.py:" in first
    assert rest.startswith("Traceback (most recent call last):")
