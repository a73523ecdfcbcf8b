"""The read-only page at `/`: what the sandbox's mailboxes hold, so a newcomer can see what sync did.

`/` lists the mailboxes with their counts (and shows each one in full when there are only a few);
`/?user=UPN` shows one mailbox: its contacts in every contact folder, a week of calendar (Monday to Sunday
in UTC; `&week=YYYY-MM-DD` picks another), its tasks per To Do list and its most recent mail. Plain
server-rendered HTML: every value shown goes through `html.escape` (names can hold markup), and a strict
Content-Security-Policy forbids scripts anyway. It reads the store only, and never shows tokens, secrets or
the sandbox-only facts items keep in `Item.hidden`.
"""

from __future__ import annotations

import heapq
import html
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from exsync.model.zones import UnknownZone, zone
from exsync.sandbox import events
from exsync.sandbox.http import Request, Response
from exsync.sandbox.store import Item, Mailbox, Store

if TYPE_CHECKING:
    from exsync.sandbox.app import Sandbox

CONTACTS_SHOWN = 200  # per mailbox
TASKS_SHOWN = 100  # per To Do list
EVENTS_SHOWN = 300  # per week
MESSAGES_SHOWN = 20  # per mailbox
MAILBOXES_SHOWN = 500
INLINE_MAILBOXES = 3  # `/` shows every mailbox in full when there are at most this many
COUNTED = ("contact", "event", "todoTask", "message")
HTML = "text/html; charset=utf-8"
HEADERS = {
    "Cache-Control": "no-store",
    # No script may run, whatever slipped through: the page needs only its inline style.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5em auto;max-width:72em;
padding:0 1em;color:#1f2328}
h1{font-size:1.5em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:2px solid #d0d7de}
h3{margin:1.4em 0 .4em}h4{margin:1em 0 .3em;color:#57606a}
table{border-collapse:collapse;width:100%;margin:.3em 0}
th,td{text-align:left;padding:.2em .6em;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#6e7781}h1 a{color:inherit;text-decoration:none}
.tag{font-size:.85em;background:#eaeef2;border-radius:3px;padding:0 .35em;margin-left:.3em}
nav a{margin-right:1em}code{background:#f6f8fa;padding:0 .25em}
"""


def e(value: object) -> str:
    """Every value shown goes through here."""
    return html.escape("" if value is None else str(value), quote=True)


def page(sandbox: Sandbox, req: Request) -> Response:
    if req.method not in ("GET", "HEAD"):
        headers = {**HEADERS, "Allow": "GET, HEAD"}
        return _answer(405, "Read-only", "<p>This page is read-only: only GET is served here.</p>", headers)
    try:
        week = _week_start(req.query.get("week"))
    except ValueError:
        body = f"<p>'week' must be a date like 2026-11-16; got <code>{e(req.query.get('week'))}</code>.</p>"
        return _answer(400, "Bad request", body + _back())
    store = sandbox.store
    upn = req.query.get("user")
    if upn is not None:
        mailbox = store.mailbox(upn)
        if mailbox is None:
            body = f"<p>There is no mailbox <code>{e(upn)}</code> in this sandbox.</p>"
            return _answer(404, "No such mailbox", body + _back())
        shown = [mailbox]
    else:
        everyone = list(store.mailboxes.values())
        shown = everyone if len(everyone) <= INLINE_MAILBOXES else []
    index = _Index.build(store, {m.id for m in shown})
    parts = [_mailbox_list(store, index, req.base_url, selected=upn)]
    if upn is None and not shown and store.mailboxes:
        parts.append('<p class="muted">Choose a mailbox above to see its items.</p>')
    parts.extend(_mailbox(store, index, m, week) for m in shown)
    title = f"{shown[0].display_name} — exsync sandbox" if upn is not None else "exsync sandbox"
    return Response(200, _document(title, "".join(parts)), dict(HEADERS), HTML)


# -- reading the store ----------------------------------------------------------------------------------
@dataclass
class _Index:
    """One pass over the store: counts per mailbox and kind, and the shown mailboxes' items by kind."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    items: dict[str, dict[str, list[Item]]] = field(default_factory=dict)

    @classmethod
    def build(cls, store: Store, owners: set[str]) -> _Index:
        index = cls({m: Counter() for m in store.mailboxes}, {m: {} for m in owners})
        counts, items = index.counts, index.items
        for item in store.items.values():
            counter = counts.get(item.owner)
            if counter is not None:
                counter[item.kind] += 1
            bucket = items.get(item.owner)
            if bucket is not None:
                bucket.setdefault(item.kind, []).append(item)
        return index

    def of(self, mailbox: Mailbox, kind: str) -> list[Item]:
        return self.items.get(mailbox.id, {}).get(kind, [])


def _name_of(store: Store, folder_id: str) -> str:
    folder = store.get(folder_id)
    if folder is None:
        return "?"
    return str(folder.data.get("displayName") or folder.data.get("name") or "(no name)")


# -- the parts of the page -------------------------------------------------------------------------------
def _mailbox_list(store: Store, index: _Index, base_url: str, selected: str | None) -> str:
    mailboxes = sorted(store.mailboxes.values(), key=lambda m: m.upn.casefold())
    rows = []
    for mailbox in mailboxes[:MAILBOXES_SHOWN]:
        count = index.counts.get(mailbox.id, Counter())
        mark = " ◂" if selected is not None and mailbox.upn.casefold() == selected.casefold() else ""
        denied = f'<span class="tag">denied: {e(", ".join(mailbox.denied))}</span>' if mailbox.denied else ""
        rows.append(
            f'<tr><td><a href="{e(_link(mailbox.upn))}">{e(mailbox.upn)}</a>{e(mark)}</td>'
            f"<td>{e(mailbox.display_name)}{denied}</td>"
            + "".join(f'<td class="n">{count[kind]:,}</td>' for kind in COUNTED)
            + "</tr>"
        )
    intro = (
        f"<p>A Microsoft Graph emulator: Graph v1.0 at <code>{e(base_url)}/v1.0</code>, tokens from "
        f"<code>{e(base_url)}/&lt;tenant&gt;/oauth2/v2.0/token</code>. This page is read-only.</p>"
    )
    if not mailboxes:
        return intro + "<h2>Mailboxes</h2><p class='muted'>No mailboxes yet.</p>"
    table = _table(("mailbox", "name", "contacts", "events", "tasks", "messages"), rows)
    return intro + f"<h2>Mailboxes ({len(mailboxes):,})</h2>" + table + _more(len(mailboxes), MAILBOXES_SHOWN)


def _mailbox(store: Store, index: _Index, mailbox: Mailbox, week: date) -> str:
    return (
        f'<h2 id="{e(mailbox.upn)}">{e(mailbox.display_name)} '
        f'<span class="muted">{e(mailbox.upn)}</span></h2>'
        + _contacts(store, index.of(mailbox, "contact"))
        + _calendar(store, mailbox, index.of(mailbox, "calendar"), len(index.of(mailbox, "event")), week)
        + _tasks(store, index.of(mailbox, "todoTaskList"), index.of(mailbox, "todoTask"))
        + _mail(store, index.of(mailbox, "message"))
    )


def _contacts(store: Store, contacts: list[Item]) -> str:
    folders = {f: _name_of(store, f) for f in {c.parent for c in contacts}}
    per_folder = Counter(c.parent for c in contacts)
    summary = " · ".join(
        f"{e(folders[f])} {n:,}" for f, n in sorted(per_folder.items(), key=lambda p: folders[p[0]])
    )
    head = f"<h3>Contacts ({len(contacts):,})</h3>"
    if not contacts:
        return head + "<p class='muted'>None.</p>"
    chosen = heapq.nsmallest(
        CONTACTS_SHOWN, contacts, key=lambda c: (folders[c.parent].casefold(), _contact_name(c).casefold())
    )
    rows = []
    for contact in chosen:
        data = contact.data
        emails = ", ".join(
            str(a.get("address") or "") for a in data.get("emailAddresses") or () if isinstance(a, dict)
        )
        phones = ", ".join(
            str(p) for p in [*(data.get("businessPhones") or ()), data.get("mobilePhone")] if p
        )
        company = " · ".join(str(v) for v in (data.get("companyName"), data.get("jobTitle")) if v)
        rows.append(_row(_contact_name(contact), folders[contact.parent], emails, phones, company))
    table = _table(("name", "folder", "e-mail", "phones", "company · job title"), rows)
    return head + f"<p class='muted'>{summary}</p>" + table + _more(len(contacts), CONTACTS_SHOWN)


def _contact_name(contact: Item) -> str:
    data = contact.data
    return str(data.get("displayName") or data.get("fileAs") or "(no name)")


def _tasks(store: Store, lists: list[Item], tasks: list[Item]) -> str:
    by_list: dict[str, list[Item]] = {}
    for task in tasks:
        by_list.setdefault(task.parent, []).append(task)
    parts = [f"<h3>Tasks ({len(tasks):,})</h3>"]
    known = {task_list.id for task_list in lists}
    orphans = [(p, _name_of(store, p)) for p in by_list if p not in known]  # a list another module keeps
    ordered = sorted(((t.id, _name_of(store, t.id)) for t in lists), key=lambda p: p[1].casefold())
    for list_id, name in ordered + orphans:
        in_list = by_list.get(list_id, [])
        parts.append(f"<h4>{e(name)} ({len(in_list):,})</h4>")
        if not in_list:
            parts.append("<p class='muted'>No tasks.</p>")
            continue
        # Open tasks first, then by due date (none last), then title.
        chosen = heapq.nsmallest(TASKS_SHOWN, in_list, key=_task_order)
        rows = [
            _row(
                t.data.get("title") or "(no title)",
                t.data.get("status"),
                _due(t.data.get("dueDateTime")),
                t.data.get("importance"),
            )
            for t in chosen
        ]
        parts.append(
            _table(("title", "status", "due", "importance"), rows) + _more(len(in_list), TASKS_SHOWN)
        )
    return "".join(parts)


def _task_order(task: Item) -> tuple[bool, str, str]:
    due = _due(task.data.get("dueDateTime"))
    return task.data.get("status") == "completed", due or "9999", str(task.data.get("title") or "").casefold()


def _due(value: Any) -> str:
    """A To Do due date. To Do keeps the client's date at midnight of the client's zone, in UTC: adding
    twelve hours lands on the intended date for every zone from UTC-12 to UTC+12."""
    moment = _moment(value)
    return (moment + timedelta(hours=12)).date().isoformat() if moment is not None else ""


def _mail(store: Store, messages: list[Item]) -> str:
    head = f"<h3>Recent mail ({len(messages):,} messages)</h3>"
    if not messages:
        return head + "<p class='muted'>None.</p>"
    latest = heapq.nlargest(MESSAGES_SHOWN, messages, key=_received)
    folders: dict[str, str] = {}
    rows = []
    for message in latest:
        if message.parent not in folders:
            folders[message.parent] = _name_of(store, message.parent)
        sender = (message.data.get("from") or message.data.get("sender") or {}).get("emailAddress") or {}
        who = sender.get("name") or sender.get("address") or ""
        if sender.get("name") and sender.get("address"):
            who = f"{sender['name']} <{sender['address']}>"
        subject = str(message.data.get("subject") or "(no subject)")
        draft = " (draft)" if message.data.get("isDraft") else ""
        rows.append(_row(_when(_received(message)), folders[message.parent], who, subject + draft))
    return head + _table(("received (UTC)", "folder", "from", "subject"), rows)


def _received(message: Item) -> str:
    return str(message.data.get("receivedDateTime") or message.data.get("sentDateTime") or message.created)


def _when(stamp: str) -> str:
    return stamp.replace("T", " ")[:16]


# -- the calendar ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Shown:
    start: datetime  # UTC; an all-day event's own dates at midnight
    end: datetime
    all_day: bool
    event: Item  # a stored event, or the view of an occurrence or exception
    calendar: str
    note: str = ""


def _calendar(store: Store, mailbox: Mailbox, calendars: list[Item], stored: int, week: date) -> str:
    lo = datetime.combine(week, datetime.min.time(), UTC)
    hi = lo + timedelta(days=7)
    problems: list[str] = []
    shown = sorted(_week_events(store, calendars, lo, hi, problems), key=lambda s: (s.start, not s.all_day))
    nav = (
        f'<nav><a href="{e(_link(mailbox.upn, week - timedelta(days=7)))}">◂ previous week</a>'
        f'<a href="{e(_link(mailbox.upn))}">this week</a>'
        f'<a href="{e(_link(mailbox.upn, week + timedelta(days=7)))}">next week ▸</a></nav>'
    )
    last = week + timedelta(days=6)
    head = f"<h3>Calendar: {week:%a %d %b} – {last:%a %d %b %Y}, UTC ({stored:,} events stored)</h3>{nav}"
    head += "".join(f"<p class='muted'>{e(p)}</p>" for p in problems)
    if not shown:
        return head + "<p class='muted'>Nothing this week.</p>"
    rows = []
    for s in shown[:EVENTS_SHOWN]:
        data = s.event.data
        location = data.get("location")
        place = location.get("displayName") if isinstance(location, dict) else ""
        notes = [s.note] if s.note else []
        if data.get("isCancelled"):
            notes.append("cancelled")
        if data.get("showAs") not in (None, "busy"):
            notes.append(f"show as {data['showAs']}")
        subject = data.get("subject") or "(no subject)"
        rows.append(_row(_span(s), subject, place, s.calendar, "; ".join(notes)))
    table = _table(("when", "subject", "location", "calendar", "notes"), rows)
    return head + table + _more(len(shown), EVENTS_SHOWN)


def _week_events(
    store: Store, calendars: list[Item], lo: datetime, hi: datetime, problems: list[str]
) -> Iterator[_Shown]:
    """What calendarView would show for [lo, hi): single events, occurrences and exceptions of series."""
    for calendar in calendars:
        name = _name_of(store, calendar.id)
        try:
            targets = list(events.calendar_view(store, calendar, lo, hi))
        except ValueError as exc:  # a series the sandbox cannot expand: say so rather than fail the page
            problems.append(f"{name}: could not list the week ({exc})")
            continue
        for target in targets:
            view = events.view_of(target)
            note = ""
            if isinstance(target, events.Instance):
                changed = "changed occurrence; " if target.exception is not None else ""
                note = changed + _recurrence_summary(target.master.data.get("recurrence") or {})
            all_day = bool(view.data.get("isAllDay"))
            if all_day:  # a run of dates, the same in every zone
                start, end = _wall_date(view.data.get("start")), _wall_date(view.data.get("end"))
            else:
                times = events.span(view.data)
                start, end = (times[0].astimezone(UTC), times[1].astimezone(UTC)) if times else (None, None)
            if start is not None and end is not None:
                yield _Shown(start, end, all_day, view, name, note)


def _wall_date(value: Any) -> datetime | None:
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        return None
    return datetime.combine(date.fromisoformat(value["dateTime"][:10]), datetime.min.time(), UTC)


def _recurrence_summary(recurrence: dict[str, Any]) -> str:
    pattern = recurrence.get("pattern") or {}
    kind = str(pattern.get("type") or "?")
    interval = pattern.get("interval") or 1
    days = ", ".join(str(d).capitalize() for d in pattern.get("daysOfWeek") or ())
    unit = {"daily": "day", "weekly": "week", "absoluteMonthly": "month", "relativeMonthly": "month",
            "absoluteYearly": "year", "relativeYearly": "year"}.get(kind, kind)  # fmt: skip
    every = f"every {unit}" if interval == 1 else f"every {interval} {unit}s"
    if kind in ("absoluteMonthly", "absoluteYearly") and pattern.get("dayOfMonth"):
        every += f" on day {pattern['dayOfMonth']}"
    elif kind.startswith("relative") and days:
        every += f" on the {pattern.get('index') or 'first'} {days}"
    elif days:
        every += f" on {days}"
    return f"repeats {every}"


def _span(s: _Shown) -> str:
    if s.all_day:
        last = (s.end - timedelta(days=1)).date() if s.end > s.start else s.start.date()
        first = s.start.date()
        return f"{first:%a %d %b} all day" if last == first else f"{first:%a %d %b} – {last:%a %d %b} all day"
    if s.end.date() == s.start.date():
        return f"{s.start:%a %d %b %H:%M}–{s.end:%H:%M}"
    return f"{s.start:%a %d %b %H:%M} – {s.end:%a %d %b %H:%M}"


# -- values --------------------------------------------------------------------------------------------
def _moment(value: Any) -> datetime | None:
    """A Graph dateTimeTimeZone (or an ISO string) as an aware UTC datetime; None if it is not one."""
    if isinstance(value, dict):
        raw, name = value.get("dateTime"), value.get("timeZone")
    else:
        raw, name = value, "UTC"
    if not isinstance(raw, str) or not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw[:19] + ("Z" if raw.endswith("Z") else ""))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_zone_or_utc(name))
    return moment.astimezone(UTC)


def _zone_or_utc(name: Any) -> Any:
    if not isinstance(name, str) or not name:
        return UTC
    try:
        return zone(name)
    except UnknownZone:
        return UTC


def _week_start(raw: str | None) -> date:
    day = date.fromisoformat(raw) if raw else datetime.now(UTC).date()
    return day - timedelta(days=day.weekday())


# -- HTML -------------------------------------------------------------------------------------------------
def _link(upn: str, week: date | None = None) -> str:
    query = {"user": upn} if week is None else {"user": upn, "week": week.isoformat()}
    return "/?" + urlencode(query)


def _back() -> str:
    return '<p><a href="/">All mailboxes</a></p>'


def _row(*cells: object) -> str:
    return "<tr>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>"


def _table(columns: Sequence[str], rows: Iterable[str]) -> str:
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _more(total: int, shown: int) -> str:
    return f"<p class='muted'>… and {total - shown:,} more.</p>" if total > shown else ""


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{e(title)}</title><style>{STYLE}</style></head><body>"
        f'<h1><a href="/">exsync sandbox</a></h1>{body}</body></html>'
    )


def _answer(status: int, title: str, body: str, headers: dict[str, str] | None = None) -> Response:
    document = _document(title, f"<h2>{e(title)}</h2>{body}")
    return Response(status, document, headers or dict(HEADERS), HTML)
