"""The scheduled job: ingest → build the period's issue (once) → send it (resumably).

The period containing `as_of` is the issue's key, so a scheduler that fires twice, or a run
interrupted half way, converges on one issue sent once to everyone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from digest.build import BuildReport, build_issue
from digest.ingest import IngestReport, ingest
from digest.models import Issue
from digest.project import Project
from digest.store import IssueExists, Store, now_utc

if TYPE_CHECKING:
    from digest.bounces import BounceReport
    from digest.send import SendReport

Period = Literal["day", "week", "month"]
# what period_key makes: 2026-11-27, 2026-W48, 2026-11 (a hand-built issue's key is build-…)
_PERIOD_KEY = re.compile(r"^\d{4}-(W\d{2}|\d{2}-\d{2}|\d{2})$")
PERIODS: tuple[Period, ...] = ("day", "week", "month")


def period_key(as_of: datetime, period: Period) -> str:
    """The name of the period containing `as_of`, in its own time zone (the editors' calendar,
    not UTC's): 2026-11-27, 2026-W48 (ISO week), 2026-11."""
    when = as_of
    if period == "day":
        return f"{when:%Y-%m-%d}"
    if period == "month":
        return f"{when:%Y-%m}"
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


def period_bounds(as_of: datetime, period: Period) -> tuple[datetime, datetime]:
    """Where the period containing `as_of` starts and ends (exclusive), in its time zone."""
    day = as_of.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day, day + timedelta(days=1)
    if period == "week":
        start = day - timedelta(days=as_of.weekday())  # ISO weeks start on Monday
        return start, start + timedelta(days=7)
    start = day.replace(day=1)
    return start, (start + timedelta(days=32)).replace(day=1)


def sent_this_period(store: Store, as_of: datetime, period: Period) -> Issue | None:
    """An issue that went out in the period containing `as_of` by another way than this
    period's scheduled run: built and sent by hand (its own key), or sending now. A scheduled
    issue of another period (a late send of last week's) is that period's, not this one's."""
    start, end = period_bounds(as_of, period)
    for issue, started in store.issues_send_started(since=start):
        if start <= started.astimezone(as_of.tzinfo) < end and not _other_periods_key(
            issue.key, as_of, period
        ):
            return issue
    return None


def scheduled_this_period(store: Store, as_of: datetime, period: Period) -> Issue | None:
    """An approved issue an editor scheduled (`digest issue schedule`) within the period
    containing `as_of`: it is this period's issue, sent by the first run at or after its time."""
    start, end = period_bounds(as_of, period)
    for issue in store.scheduled_issues():
        assert issue.send_at is not None
        when = _aware(issue.send_at).astimezone(as_of.tzinfo)
        if start <= when < end and not _other_periods_key(issue.key, as_of, period):
            return issue
    return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _other_periods_key(key: str, as_of: datetime, period: Period) -> bool:
    return bool(_PERIOD_KEY.match(key)) and key != period_key(as_of, period)


def period_window(period: Period) -> timedelta:
    """How far back a run looks: one period's length, ending at `as_of`."""
    return {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=31)}[
        period
    ]


@dataclass
class RunReport:
    key: str
    ingest: IngestReport
    issue: Issue | None
    built: bool  # False when this period's issue already existed
    # "empty" | "held" | "scheduled" | "sent" | "already-sent" | "partial" | "in-progress"
    outcome: str
    counts: dict[str, int]
    stories: int = 0  # when "empty": how many qualified (fewer than selection.min_stories)
    send: SendReport | None = None  # this run's send, when it sent
    bounces: BounceReport | None = None  # `[bounces] source`, read first when configured
    bounce_problem: str = ""  # why it could not be read this time (the run went on)


def run_period(
    project: Project,
    *,
    as_of: datetime | None = None,
    period: Period = "week",
    articles: list[str] | None = None,
    hold: bool = False,
    send_options: dict[str, object] | None = None,
) -> RunReport:
    """Read the bounce mailbox (when `[bounces] source` is set), ingest, build the period's
    issue once and send it. With `hold` (or `[schedule] hold`) the issue is built as a draft
    and waits for an editor; an approved one is sent by the next run without `hold`."""
    bounces, bounce_problem = _read_bounces(project)
    result = _ingest_build_send(project, as_of, period, articles, hold, send_options)
    result.bounces, result.bounce_problem = bounces, bounce_problem
    return result


def _read_bounces(project: Project) -> tuple[BounceReport | None, str]:
    """The bounce mailbox first, so this run's send already skips whoever bounced or complained.
    A mailbox that cannot be reached this time does not hold up the issue (the next run reads
    it); one that is set up wrong stops the run, exit 2, before anything is sent."""
    from digest.bounces import BounceSourceUnavailable, process_bounces

    if not project.config.bounces_source:
        return None, ""
    try:
        return process_bounces(project), ""
    except BounceSourceUnavailable as exc:
        return None, str(exc)


def _ingest_build_send(
    project: Project,
    as_of: datetime | None,
    period: Period,
    articles: list[str] | None,
    hold: bool,
    send_options: dict[str, object] | None,
) -> RunReport:
    from digest.send import SendLocked, send_issue

    as_of = as_of or now_utc()
    key = period_key(as_of, period)
    store = project.store
    report = ingest(
        store,
        [*project.config.sources, *(articles or [])],
        max_bytes=project.config.max_bytes,
        allow_private=project.config.allow_private,
        follow_links=project.config.follow_links,
    )
    issue = (
        store.issue_by_key(key)
        or sent_this_period(store, as_of, period)
        or scheduled_this_period(store, as_of, period)
    )
    built = False
    if issue is None:
        try:
            build = build_issue(
                project,
                as_of=as_of,
                since=period_window(period),
                key=key,
                # unheld, the run approves its own build: the same act as an editor's send
                status="draft" if hold or project.config.hold else "approved",
                min_stories=project.config.min_stories,
                exclude_sent=True,
                read_sources_if_empty=False,  # just ingested above
            )
        except IssueExists:
            # a concurrent run built this period's issue first: carry on with theirs
            build = BuildReport(issue=store.issue_by_key(key), ingest=report)
        else:
            built = True
        issue = build.issue
        if issue is None:
            return RunReport(key, report, None, built, "empty", {}, stories=build.stories)
    if issue.status == "sent":
        counts = store.send_counts(issue.id).as_dict()
        return RunReport(key, report, issue, built, "already-sent", counts)
    if issue.status == "approved" and issue.send_at and _aware(issue.send_at) > as_of:
        # the editor set its send time (`digest issue schedule`): a later run sends it
        return RunReport(key, report, issue, built, "scheduled", {})
    if hold or issue.status == "draft":
        # a draft waits for an editor's approval (`digest issue approve`, `digest send`, the
        # desk); the scheduler never approves one it did not just build. `--hold` sends nothing.
        return RunReport(key, report, issue, built, "held", {})
    try:
        sent = send_issue(project, issue, **(send_options or {}))
    except SendLocked:
        # a run fired twice: the other one is sending this issue; it finishes the job
        counts = store.send_counts(issue.id).as_dict()
        return RunReport(key, report, issue, built, "in-progress", counts)
    counts = sent.counts.as_dict()
    outcome = "partial" if counts.get("deferred") or counts.get("pending") else "sent"
    return RunReport(key, report, issue, built, outcome, counts, send=sent)
