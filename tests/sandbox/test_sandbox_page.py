"""The read-only page at `/`: what a mailbox holds, written through Graph's documented requests, shows up;
values are escaped; an unknown mailbox is a clear 404; a mailbox of 2,000 contacts renders fast.

Items are created with raw requests shaped like Microsoft's documentation ("Create contact", "Create
event" with a recurrence, "Create todoTaskList", "Create todoTask", JSON batching); received mail comes in
through the sandbox's control API (Graph cannot receive mail). The page is read with the control client,
which has no token."""

from __future__ import annotations

import base64
import html
import re
import time
from datetime import UTC, date, datetime, timedelta

from sandbox_fixtures import Graph

from exsync.sandbox.http import Request

SCRIPT = "<script>alert(1)</script>"


def this_monday() -> date:
    today = datetime.now(UTC).date()
    return today - timedelta(days=today.weekday())


def created(response: object) -> dict[str, object]:
    assert getattr(response, "status_code", None) == 201, getattr(response, "text", response)
    return response.json()  # type: ignore[attr-defined,no-any-return]


def deliver(graph: Graph, folder: str, sender: str, subject: str) -> None:
    """Received mail, through the sandbox's control API (Graph has no way to receive mail)."""
    mime = (
        f"From: {sender}\r\nTo: {graph.upn}\r\nSubject: {subject}\r\n"
        "Date: Mon, 16 Nov 2026 09:00:00 +0000\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
    )
    body = {"folder": folder, "mime": base64.b64encode(mime.encode()).decode()}
    response = graph.control.post(f"/_sandbox/users/{graph.upn}/messages", json=body)
    assert response.status_code == 201, response.text


def page_of(graph: Graph, upn: str, **params: str) -> str:
    response = graph.control.get("/", params={"user": upn, **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def calendar_part(text: str) -> str:
    return text[text.index("<h3>Calendar") : text.index("<h3>Tasks")]


def test_page_shows_contacts_week_tasks_and_mail(graph: Graph) -> None:
    c = graph.client
    created(c.post(f"{graph.me}/contacts", json={
        "givenName": "Pavel", "surname": "Bansky", "companyName": "Fabrikam",
        "emailAddresses": [{"address": "pavelb@fabrikam.onmicrosoft.com", "name": "Pavel Bansky"}],
        "businessPhones": ["+1 732 555 0102"],
    }))  # fmt: skip
    folder = created(c.post(f"{graph.me}/contactFolders", json={"displayName": "Firm Contacts"}))
    created(
        c.post(
            f"{graph.me}/contactFolders/{folder['id']}/contacts", json={"givenName": "Zoë", "surname": "Ng"}
        )
    )

    monday = this_monday()
    wednesday = monday + timedelta(days=2)
    created(c.post(f"{graph.me}/events", json={
        "subject": "Kick-off with Fabrikam",
        "start": {"dateTime": f"{wednesday}T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": f"{wednesday}T11:30:00", "timeZone": "UTC"},
        "location": {"displayName": "Room 4"},
    }))  # fmt: skip
    thursday = monday + timedelta(days=3)
    series_start = thursday - timedelta(weeks=3)
    created(c.post(f"{graph.me}/events", json={
        "subject": "Weekly review",
        "start": {"dateTime": f"{series_start}T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": f"{series_start}T09:30:00", "timeZone": "UTC"},
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["thursday"]},
            "range": {"type": "noEnd", "startDate": str(series_start)},
        },
    }))  # fmt: skip
    last_week = monday - timedelta(days=7)
    created(c.post(f"{graph.me}/events", json={
        "subject": "Old meeting",
        "start": {"dateTime": f"{last_week}T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": f"{last_week}T11:00:00", "timeZone": "UTC"},
    }))  # fmt: skip

    task_list = created(c.post(f"{graph.me}/todo/lists", json={"displayName": "Firm Tasks"}))
    created(c.post(f"{graph.me}/todo/lists/{task_list['id']}/tasks", json={
        "title": "File the appeal", "status": "inProgress",
        "dueDateTime": {"dateTime": "2020-07-25T16:00:00", "timeZone": "Eastern Standard Time"},
    }))  # fmt: skip

    deliver(graph, "inbox", "Dana Client <dana@client.example>", "Quarterly report")
    deliver(graph, "sentitems", f"Me <{graph.upn}>", "Hearing date")

    text = page_of(graph, graph.upn)
    for shown in ("Pavel Bansky", "Fabrikam", "pavelb@fabrikam.onmicrosoft.com", "+1 732 555 0102",
                  "Zoë Ng", "Firm Contacts",  # the folder a contact is in
                  "File the appeal", "inProgress", "2020-07-25", "Firm Tasks", "Tasks",
                  "Quarterly report", "Dana Client &lt;dana@client.example&gt;", "Inbox",
                  "Hearing date", "Sent Items"):  # fmt: skip
        assert shown in text, shown
    assert "<tr><td>Zoë Ng</td><td>Firm Contacts</td>" in text
    assert "<tr><td>Pavel Bansky</td><td>Contacts</td>" in text
    week = calendar_part(text)
    assert f"{wednesday:%a %d %b} 10:00–11:30" in week
    assert "Kick-off with Fabrikam" in week and "Room 4" in week
    # The series shows as this week's occurrence (its master's own date is weeks ago), once.
    assert week.count("Weekly review") == 1
    assert f"{thursday:%a %d %b} 09:00–09:30" in week
    assert "repeats every week on Thursday" in week
    assert "Old meeting" not in week

    # Another week: the series again, the single event not.
    next_week = calendar_part(page_of(graph, graph.upn, week=str(monday + timedelta(days=7))))
    assert "Weekly review" in next_week and "Kick-off with Fabrikam" not in next_week
    assert "Old meeting" in calendar_part(page_of(graph, graph.upn, week=str(last_week + timedelta(days=3))))

    # The list of mailboxes links to each one, with counts; the page never shows a token or a secret.
    front = graph.control.get("/")
    assert front.status_code == 200
    link = html.escape(f"/?user={graph.upn.replace('@', '%40')}")
    assert f'href="{link}"' in front.text
    row = front.text[front.text.index(f'href="{link}"') :].split("</tr>")[0]
    # contacts, events (stored: single ones and series masters), tasks, messages
    assert re.findall(r'<td class="n">([\d,]+)</td>', row) == ["2", "3", "1", "2"]
    token = c.headers["authorization"].removeprefix("Bearer ")
    signing_key = graph.server.sandbox.store.meta["signing_key"]
    for secret in (token, token.split(".")[2], signing_key, "client_secret"):
        assert secret not in text and secret not in front.text


def test_values_are_escaped(graph: Graph) -> None:
    created(
        graph.client.post(f"{graph.me}/contacts", json={"givenName": SCRIPT, "companyName": '"><b>x</b>'})
    )
    deliver(graph, "inbox", f"{SCRIPT} <x@client.example>", f"Re: {SCRIPT}")
    odd = 'x"><script>alert(2)</script>@firm.example'  # the control API accepts it as a UPN
    assert graph.control.post("/_sandbox/users", json={"userPrincipalName": odd}).status_code == 201

    text = page_of(graph, graph.upn)
    assert SCRIPT not in text and "<b>x</b>" not in text
    assert html.escape(SCRIPT) in text  # shown, as text
    assert f"Re: {html.escape(SCRIPT)}" in text
    front = graph.control.get("/")
    assert "<script>alert(2)" not in front.text and '"><script' not in front.text
    assert html.escape(odd) in front.text
    assert "script-src" not in front.headers["content-security-policy"]  # so: default-src 'none' applies
    assert "default-src 'none'" in front.headers["content-security-policy"]
    # The odd mailbox's own page works through its (encoded) link.
    assert html.escape(odd) in page_of(graph, odd)


def test_unknown_mailbox_is_a_404_page(graph: Graph) -> None:
    response = graph.control.get("/", params={"user": "nobody@firm.example"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "No such mailbox" in response.text and "nobody@firm.example" in response.text
    assert '<a href="/">' in response.text

    escaped = graph.control.get("/", params={"user": "<i>who</i>"})
    assert escaped.status_code == 404 and "<i>who</i>" not in escaped.text and "&lt;i&gt;who" in escaped.text
    assert graph.control.get("/", params={"user": graph.upn, "week": "soon"}).status_code == 400
    refused = graph.control.post("/", json={})
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"


def test_two_thousand_contacts_render_fast(graph: Graph) -> None:
    # 2,000 contacts through JSON batching: 100 batches of 20 "Create contact" requests.
    for batch in range(100):
        requests = [
            {"id": str(n + 1), "method": "POST", "url": f"/users/{graph.upn}/contacts",
             "headers": {"Content-Type": "application/json"},
             "body": {"givenName": f"Person {batch * 20 + n:04d}", "surname": "Example",
                      "emailAddresses": [{"address": f"p{batch * 20 + n}@client.example"}]}}
            for n in range(20)
        ]  # fmt: skip
        response = graph.client.post("/v1.0/$batch", json={"requests": requests})
        assert response.status_code == 200
        assert {r["status"] for r in response.json()["responses"]} == {201}

    text = page_of(graph, graph.upn)
    assert "Contacts (2,000)" in text
    assert "Person 0000 Example" in text and "Person 0199 Example" in text  # the first 200 by name
    assert "Person 0200 Example" not in text
    assert "and 1,800 more" in text
    assert len(re.findall(r"<td>Person \d{4} Example</td>", text)) == 200

    # The page itself (under the store lock, as the server calls it), best of three: under 100 ms.
    sandbox = graph.server.sandbox
    request = Request.from_url("GET", f"/?user={graph.upn}", base_url=graph.server.url)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        response = sandbox.serve(request)
        timings.append(time.perf_counter() - started)
        assert response.status == 200
    assert min(timings) < 0.1, timings
