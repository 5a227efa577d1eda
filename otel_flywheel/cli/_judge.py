"""``otel-flywheel judge --project NAME``: verdicts for traces already in Phoenix.

Pull, then judge, then write: the spans of a time window (or of named traces) come from Phoenix's
REST API through ``phoenix.client``, are assembled into whole traces, redacted as the capture path
would (nothing raw reaches the judge), evaluated with `evaluate_all` and written as verdict lines.
Writing the verdicts back to Phoenix is one more step after evaluation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from otel_flywheel import _env
from otel_flywheel import semconv as sc
from otel_flywheel.conventions import SpanView, normalize_trace, span_view_from_phoenix
from otel_flywheel.errors import ConfigError, FlywheelError
from otel_flywheel.evaluation import TraceEvaluator, load_references, load_trace_evaluator
from otel_flywheel.model import AgentTrace, Verdict
from otel_flywheel.privacy import (
    RedactedResourceCache,
    Redactor,
    build_redactor,
    redact_span_view,
)
from otel_flywheel.times import parse_time_bound

from ._evaluate import evaluate_all, judge_cost_line

if TYPE_CHECKING:
    import httpx
    from phoenix.client import Client

__all__ = [
    "PhoenixAccessError",
    "PulledTraces",
    "add_judge_parser",
    "parse_time_bound",
    "phoenix_client",
    "pull_traces",
    "summarize",
]

DEFAULT_SINCE: Final = "1h"
# Per request. phoenix.client's own default (5 s) is too short for a page of big LLM spans on a
# busy server.
REQUEST_TIMEOUT_SECONDS: Final = 60
CONNECT_TIMEOUT_SECONDS: Final = 10.0
# Spans read from the window to find its traces. Past it the window is cut (newest kept) and the
# command says so: memory grows with every span held.
MAX_WINDOW_SPANS: Final = 100_000
# Trace ids per request: the ids go into the query string, and URLs have length limits.
TRACE_IDS_PER_REQUEST: Final = 50
MAX_SPANS_PER_REQUEST: Final = 100_000
_PROGRESS_INTERVAL_SECONDS: Final = 1.0
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
# Where phoenix.client looks for Phoenix, in its order (PHOENIX.md): named when it cannot connect.
_PHOENIX_URL_VARIABLES: Final = (
    _env.PHOENIX_ENDPOINT,
    _env.PHOENIX_COLLECTOR_ENDPOINT,
    _env.OTEL_EXPORTER_OTLP_ENDPOINT,
    _env.PHOENIX_BASE_URL,
)

EXAMPLES = f"""\
which traces: every trace with a span that started in [--since, --until), read whole (a trace
that began before --since is judged complete). --since and --until take a duration back from now
(45s, 30m, 1h, 2d, 1w, 1h30m) or an ISO time (2026-11-21T09:00:00Z; no zone means UTC). Default:
--since {DEFAULT_SINCE}. --trace-id judges the named traces instead, whatever their time.

Phoenix: --phoenix-url, else what phoenix.client reads: PHOENIX_ENDPOINT, PHOENIX_COLLECTOR_ENDPOINT,
OTEL_EXPORTER_OTLP_ENDPOINT, PHOENIX_BASE_URL, then http://localhost:6006. PHOENIX_API_KEY is sent
as a bearer token.

judge: as for `otel-flywheel evaluate`: FLYWHEEL_JUDGE_MODEL (required), FLYWHEEL_JUDGE_BASE_URL or
OPENAI_BASE_URL, FLYWHEEL_JUDGE_API_KEY or OPENAI_API_KEY. Traces are redacted before judging.

examples:
  otel-flywheel judge --project support-agent --no-judge
  FLYWHEEL_JUDGE_MODEL=gpt-4o-mini otel-flywheel judge --project support-agent --since 2d --limit 200
  otel-flywheel judge --project support-agent --since 2026-11-20 --until 2026-11-21 --output v.jsonl
  otel-flywheel judge --project support-agent --trace-id 0af7651916cd43dd8448eb211c80319c --no-judge

output: one verdict per trace as a JSON line (as `evaluate` writes them), earliest trace first; a
summary and progress on stderr.

exit codes: 0 every trace evaluated (also when the window holds none: said on stderr); 1 some
--trace-id were not found in the project (named on stderr, the rest judged); 2 Phoenix could not
be reached or refused, the project does not exist, the judge is not configured, or the options
are wrong.
"""


def add_judge_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "judge",
        help="evaluate traces already in Phoenix and write one verdict per trace",
        description=(
            "Read the traces of a Phoenix project (a time window, or named traces), redact them "
            "as the flywheel would, run the deterministic checks and the rubric LLM judge, and "
            "write one verdict per trace as a JSON line."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--project", required=True, help="the Phoenix project (name or id)")
    parser.add_argument("--since", help=f"start of the window (default: {DEFAULT_SINCE} ago)")
    parser.add_argument("--until", help="end of the window, exclusive (default: now)")
    parser.add_argument(
        "--limit", type=_positive_int, help="judge at most N traces, the most recent ones"
    )
    parser.add_argument(
        "--trace-id",
        dest="trace_ids",
        action="append",
        metavar="ID",
        help="judge this trace (32 hex digits; repeat for more) instead of a window",
    )
    parser.add_argument("--references", type=Path, help="references, JSON lines by trace_id")
    parser.add_argument(
        "--rubrics", type=Path, help="a directory of rubric YAML files (default: the shipped ones)"
    )
    parser.add_argument("--no-judge", action="store_true", help="run only the deterministic checks")
    parser.add_argument("--output", type=Path, help="write verdicts here (default: stdout)")
    parser.add_argument("--phoenix-url", help="Phoenix's base URL, e.g. http://localhost:6006")
    parser.set_defaults(handler=run_judge)


def run_judge(args: argparse.Namespace) -> int:
    try:
        since, until = _window(args.since, args.until, named=bool(args.trace_ids))
        trace_ids = [_trace_id(value) for value in args.trace_ids or ()]
    except ValueError as exc:
        return _fail(str(exc))
    # The judge's settings fail here, before a long pull from Phoenix.
    try:
        references = load_references(args.references) if args.references else {}
        evaluator = load_trace_evaluator(judge=not args.no_judge, rubrics_dir=args.rubrics)
    except FileNotFoundError as exc:
        return _fail(f"no such file: {exc.filename}")
    except (OSError, ConfigError) as exc:
        hint = "" if args.no_judge else " (or run only the deterministic checks: --no-judge)"
        return _fail(f"{exc}{hint}")
    try:
        return _pull_and_judge(
            args, evaluator, references=references, since=since, until=until, trace_ids=trace_ids
        )
    finally:
        asyncio.run(evaluator.aclose())  # idempotent: evaluate_all closed it when it ran


def _pull_and_judge(
    args: argparse.Namespace,
    evaluator: TraceEvaluator,
    *,
    references: Mapping[str, Any],
    since: datetime | None,
    until: datetime | None,
    trace_ids: list[str],
) -> int:
    progress = _Progress(sys.stderr)
    try:
        # Before the pull: a first run generates the pseudonymization key and says so, which
        # belongs at the top of the output, not between progress lines.
        redactor = build_redactor()
        with phoenix_client(args.phoenix_url, on_response=progress.on_response) as (client, url):
            pulled = pull_traces(
                client,
                project=args.project,
                since=since,
                until=until,
                trace_ids=trace_ids,
                limit=args.limit,
                redactor=redactor,
                progress=progress.say,
            )
    except (FlywheelError, OSError) as exc:
        return _fail(str(exc))

    for missing in pulled.missing_trace_ids:
        progress.say(f"trace {missing} not found in project {args.project!r}")
    if pulled.truncated:
        progress.say(
            f"the window holds more than {MAX_WINDOW_SPANS} spans; only the traces of the newest "
            "were read. Narrow it with --since/--until."
        )
    if not pulled.traces:
        if trace_ids:
            return 1
        progress.say(
            f"no spans in project {args.project!r} at {url} {_describe_window(since, until)}; "
            "nothing to judge. Widen the window, e.g. --since 1d"
        )
        return 0

    judged_by = f"judge {evaluator.judge_model}" if evaluator.judge_model else "checks only"
    progress.say(f"evaluating {len(pulled.traces)} traces ({judged_by})")
    verdicts = asyncio.run(evaluate_all(evaluator, pulled.traces, references))
    with ExitStack() as stack:
        out: TextIO = (
            stack.enter_context(args.output.open("w", encoding="utf-8"))
            if args.output
            else sys.stdout
        )
        for verdict in verdicts:
            out.write(json.dumps(verdict.to_dict()) + "\n")
    progress.say(summarize(verdicts, project=args.project))
    cost = judge_cost_line(verdicts)
    if cost is not None:
        progress.say(cost)
    return 1 if pulled.missing_trace_ids else 0


def _fail(message: str) -> int:
    print(f"otel-flywheel judge: {message}", file=sys.stderr)
    return 2


# --- pulling traces from Phoenix -----------------------------------------------------------------


class PhoenixAccessError(FlywheelError):
    """Phoenix could not be reached, refused the request, or has no such project. The message
    names the URL and the fix."""


@dataclass
class PulledTraces:
    """Whole traces read from Phoenix, redacted and normalized, earliest first."""

    traces: list[AgentTrace] = field(default_factory=list)
    spans: int = 0
    missing_trace_ids: list[str] = field(default_factory=list)
    truncated: bool = False


@contextmanager
def phoenix_client(
    url: str | None = None, *, on_response: Callable[[httpx.Response], None] | None = None
) -> Iterator[tuple[Client, str]]:
    """A ``phoenix.client.Client`` for ``url``, else for what phoenix.client reads from the
    environment, with its base URL; its connections close on exit."""
    import httpx
    from phoenix.client import Client
    from phoenix.client.utils.config import get_base_url, get_env_client_headers

    base_url = _api_base_url(url) if url else str(get_base_url()).rstrip("/")
    hooks = {"response": [on_response]} if on_response is not None else {}
    # Our own httpx client: closed deterministically, and `PHOENIX_API_KEY` / `PHOENIX_CLIENT_HEADERS`
    # applied as phoenix.client would.
    with httpx.Client(
        base_url=base_url,
        headers=get_env_client_headers(),
        timeout=httpx.Timeout(REQUEST_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
        event_hooks=hooks,
    ) as http:
        try:
            yield Client(http_client=http), base_url
        except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout) as exc:
            raise PhoenixAccessError(
                f"Phoenix at {base_url} did not answer within {REQUEST_TIMEOUT_SECONDS} s "
                f"({type(exc).__name__}); it may be busy ingesting: retry, or read less at a time "
                "with --since/--until or --limit"
            ) from exc
        except httpx.TransportError as exc:
            raise PhoenixAccessError(
                f"cannot reach Phoenix at {base_url} ({type(exc).__name__}: {exc}). Start it, or "
                f"point to it with --phoenix-url URL or PHOENIX_COLLECTOR_ENDPOINT "
                f"({_url_source(url)})"
            ) from exc
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise PhoenixAccessError(
                    f"Phoenix at {base_url} refused the request (HTTP {status}): set "
                    f"{_env.PHOENIX_API_KEY} to an API key of that Phoenix"
                ) from exc
            raise PhoenixAccessError(
                f"Phoenix at {base_url} answered HTTP {status} to {exc.request.url.path}: "
                f"{exc.response.text[:300]}"
            ) from exc


def pull_traces(
    client: Client,
    *,
    project: str,
    since: datetime | None,
    until: datetime | None,
    trace_ids: Sequence[str] = (),
    limit: int | None = None,
    redactor: Redactor | None,
    progress: Callable[[str], None] | None = None,
) -> PulledTraces:
    """Every span of the traces with a span in ``[since, until)`` (or of ``trace_ids``), read
    whole, grouped, redacted and normalized.

    ``redactor`` is the capture path's (``build_redactor()``), so the judge and the output see
    what the flywheel would; ``None`` only to look at raw values.
    ``limit`` keeps the most recently written traces. ``progress`` hears what is going on (at most
    one line a second while traces are read). Raises ``PhoenixAccessError`` for an unknown project,
    listing the known ones; transport and HTTP errors propagate as httpx raises them.
    """
    import httpx

    report = progress or (lambda message: None)
    try:
        client.projects.get(project_name=project)
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code != 404:
            raise
        known = sorted(p["name"] for p in client.projects.list())
        raise PhoenixAccessError(
            f"Phoenix has no project {project!r}; known projects: "
            f"{', '.join(map(repr, known)) or 'none'} (choose one with --project)"
        ) from exc

    result = PulledTraces()
    wanted = list(dict.fromkeys(trace_ids))
    if not wanted:
        report(f"reading spans of {project!r} {_describe_window(since, until)}")
        window = client.spans.get_spans(
            project_identifier=project,
            start_time=since,
            end_time=until,
            limit=MAX_WINDOW_SPANS,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        result.truncated = len(window) >= MAX_WINDOW_SPANS
        # Newest written first, as Phoenix returns them: --limit keeps the most recent traces.
        wanted = list(dict.fromkeys(span["context"]["trace_id"] for span in window))
        report(f"{len(window)} spans of {len(wanted)} traces in the window")
    if limit is not None:
        wanted = wanted[:limit]

    resource = {sc.ResourceAttributes.PROJECT_NAME: project}
    by_trace: dict[str, list[SpanView]] = {}
    last_report = time.monotonic()
    for start in range(0, len(wanted), TRACE_IDS_PER_REQUEST):
        chunk = wanted[start : start + TRACE_IDS_PER_REQUEST]
        for span in client.spans.get_spans(
            project_identifier=project,
            trace_ids=chunk,
            limit=MAX_SPANS_PER_REQUEST,
            timeout=REQUEST_TIMEOUT_SECONDS,
        ):
            view = span_view_from_phoenix(span, resource=resource)
            by_trace.setdefault(view.trace_id, []).append(view)
            result.spans += 1
        done = start + len(chunk)
        if done == len(wanted) or time.monotonic() - last_report >= _PROGRESS_INTERVAL_SECONDS:
            last_report = time.monotonic()
            report(f"read {done}/{len(wanted)} traces ({result.spans} spans)")
    result.missing_trace_ids = [t for t in wanted if t not in by_trace]
    result.traces = _normalized(by_trace.values(), redactor=redactor)
    return result


def _normalized(groups: Iterable[list[SpanView]], *, redactor: Redactor | None) -> list[AgentTrace]:
    """As `read_trace_file` does: the same redaction as capture, then the normalizer."""
    resources = RedactedResourceCache(redactor) if redactor is not None else None
    traces = []
    for views in groups:
        redacted = (
            [redact_span_view(v, redactor, resources=resources) for v in views]
            if redactor is not None
            else views
        )
        traces.append(normalize_trace(redacted))
    traces.sort(key=lambda t: (t.steps[0].start_time_unix_nano if t.steps else 0, t.trace_id))
    return traces


# --- options --------------------------------------------------------------------------------------


def _window(
    since: str | None, until: str | None, *, named: bool
) -> tuple[datetime | None, datetime | None]:
    if named:
        if since or until:
            raise ValueError(
                "--trace-id judges the named traces whatever their time: drop --since/--until"
            )
        return None, None
    now = datetime.now(timezone.utc)
    start = parse_time_bound(since or DEFAULT_SINCE, now=now)
    end = parse_time_bound(until, now=now) if until else None
    if end is not None and end <= start:
        raise ValueError(
            f"--until ({end.isoformat()}) must be later than --since ({start.isoformat()})"
        )
    return start, end


def _trace_id(value: str) -> str:
    trace_id = value.strip().lower()
    if not _TRACE_ID.fullmatch(trace_id):
        raise ValueError(f"--trace-id {value!r} is not a trace id (32 hex digits)")
    return trace_id


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _api_base_url(url: str) -> str:
    # An OTLP traces URL is a common thing to have at hand (PHOENIX_COLLECTOR_ENDPOINT often is one).
    base = url.strip().rstrip("/")
    return base.removesuffix("/v1/traces")


def _url_source(url: str | None) -> str:
    if url:
        return "now: --phoenix-url"
    for name in _PHOENIX_URL_VARIABLES:
        if os.environ.get(name, "").strip():
            return f"now from {name}"
    return "none is set, so the default http://localhost:6006 was used"


def _describe_window(since: datetime | None, until: datetime | None) -> str:
    if since is None and until is None:
        return "for the named traces"
    text = f"since {since:%Y-%m-%d %H:%M:%S} UTC" if since is not None else ""
    if until is not None:
        text += f" until {until:%Y-%m-%d %H:%M:%S} UTC"
    return text.strip()


# --- output ---------------------------------------------------------------------------------------


def summarize(verdicts: Sequence[Verdict], *, project: str) -> str:
    """One line: how many traces, failed, unscored, and the failures by category."""
    failed = [v for v in verdicts if v.passed is False]
    unscored = sum(1 for v in verdicts if v.passed is None)
    categories = Counter(v.category or "uncategorized" for v in failed)
    by_category = ", ".join(f"{name} {count}" for name, count in categories.most_common())
    return f"{len(verdicts)} traces from {project!r}: {len(failed)} failed, {unscored} unscored" + (
        f"; failed by category: {by_category}" if by_category else ""
    )


class _Progress:
    """Progress on stderr: each phase as it ends, Phoenix's pages at most once a second."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pages = 0
        self._last_page_report = time.monotonic()

    def say(self, message: str) -> None:
        print(f"otel-flywheel judge: {message}", file=self._stream, flush=True)

    def on_response(self, response: httpx.Response) -> None:
        """httpx response hook: a long pull shows that it moves (Phoenix pages 100 spans)."""
        if not response.request.url.path.endswith("/spans"):
            return
        self._pages += 1
        now = time.monotonic()
        if now - self._last_page_report >= _PROGRESS_INTERVAL_SECONDS:
            self._last_page_report = now
            self.say(f"... {self._pages} pages of spans read")
