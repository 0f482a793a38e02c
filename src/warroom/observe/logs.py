"""Structured logs: structlog configured once per process, the standard library routed through it.

warroom's own code logs with `structlog.get_logger(__name__)`; uvicorn, DBOS, SQLAlchemy and
every other library log through `logging`, and both end in one handler on the root logger with
one renderer: JSON lines in production, a readable console when stderr is a terminal (or by
`WARROOM_LOG_FORMAT`). Ids bound with `structlog.contextvars` (the workflow binds the incident
id and the decision token) and the active trace id appear on every line of that work.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from opentelemetry import trace
from structlog.typing import EventDict, Processor, WrappedLogger

from warroom.config import Settings

# library loggers that install handlers of their own: theirs are dropped, ours print them
_LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "dbos", "sqlalchemy")
# libraries that log every request at INFO: heard from at WARNING unless the level is DEBUG
_CHATTY_LOGGERS = ("httpx", "httpcore", "kubernetes_asyncio", "urllib3", "alembic.runtime.plugins",
                   "alembic.runtime.migration")  # per-command migration chatter


class _WarroomHandler(logging.StreamHandler[TextIO]):
    """The one handler warroom puts on the root logger (others', e.g. pytest's, stay).

    Without an explicit stream it writes to whatever `sys.stderr` is at the time of each line,
    so a caller that swaps stderr (a test runner) never leaves it writing to a closed file.
    """

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream or sys.stderr)
        self._follow = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        """Write the line to the current stderr (or the stream given)."""
        if self._follow:
            self.stream = sys.stderr
        super().emit(record)


def _trace_ids(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Add the active span's trace and span ids, so a log line leads to its trace."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


def _drop_color_message(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Drop the ANSI-coloured copy of the message uvicorn attaches to its records."""
    event.pop("color_message", None)
    return event


class _DropDbosOtelNotice(logging.Filter):
    """DBOS warns that no OTLP *log* provider exists when its tracing is on; warroom exports
    traces only, on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "logger provider not set" not in record.getMessage()


def wants_json(settings: Settings, stream: TextIO) -> bool:
    """Tell whether lines are JSON: by setting, or in `auto` when the stream is no terminal."""
    if settings.log_format == "auto":
        return not stream.isatty()
    return settings.log_format == "json"


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Route structlog and the standard library through one handler; later calls re-configure."""
    out = stream or sys.stderr
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        raise ValueError(f"WARROOM_LOG_LEVEL: unknown level {settings.log_level!r}")
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _trace_ids,
    ]
    as_json = wants_json(settings, out)
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    tail: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if as_json:
        tail.append(structlog.processors.format_exc_info)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_color_message],
        processors=[*tail, renderer],
    )
    handler = _WarroomHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(_DropDbosOtelNotice())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _WarroomHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING) if level > logging.DEBUG
                                         else level)
    # DBOS adds its own console handler to a logger that has none: give it one that prints
    # nothing, and let its records reach ours
    logging.getLogger("dbos").addHandler(logging.NullHandler())
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
