"""Microsoft To Do in the sandbox, spoken to as Microsoft's docs show it (api-reference/v1.0 todo* pages):
lists, tasks, linked resources, due and completed dates, If-Match, $filter/$expand and the delta rounds."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from examples import load_examples, same_shape

if TYPE_CHECKING:
    from sandbox_fixtures import Graph

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$")
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _lists(graph: Graph) -> list[dict[str, Any]]:
    response = graph.client.get(f"{graph.me}/todo/lists")
    assert response.status_code == 200
    return list(response.json()["value"])


def _default_list(graph: Graph) -> str:
    return next(str(x["id"]) for x in _lists(graph) if x["wellknownListName"] == "defaultList")


def _new_list(graph: Graph, name: str = "Travel items") -> str:
    response = graph.client.post(f"{graph.me}/todo/lists", json={"displayName": name})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _new_task(graph: Graph, list_id: str, **body: Any) -> dict[str, Any]:
    response = graph.client.post(
        f"{graph.me}/todo/lists/{list_id}/tasks", json={"title": "A new task", **body}
    )
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


# -- lists ---------------------------------------------------------------------------------------------------
def test_a_new_mailbox_has_the_built_in_lists(graph: Graph) -> None:
    lists = {x["wellknownListName"]: x for x in _lists(graph)}
    assert lists["defaultList"]["displayName"] == "Tasks"
    assert lists["flaggedEmails"]["displayName"] == "Flagged Emails"
    for task_list in lists.values():
        assert task_list["isOwner"] is True and task_list["isShared"] is False
        assert re.fullmatch(r'W/".+"', task_list["@odata.etag"])
        assert "changeKey" not in task_list


def test_create_read_and_rename_a_list(graph: Graph) -> None:
    response = graph.client.post(f"{graph.me}/todo/lists", json={"displayName": "Travel items"})
    assert response.status_code == 201
    created = response.json()
    assert created["displayName"] == "Travel items" and created["wellknownListName"] == "none"
    assert created["@odata.context"].endswith("/todo/lists/$entity")

    renamed = graph.client.patch(f"{graph.me}/todo/lists/{created['id']}", json={"displayName": "Vacation"})
    assert renamed.status_code == 200
    assert renamed.json()["displayName"] == "Vacation"
    assert renamed.json()["@odata.etag"] != created["@odata.etag"]
    assert graph.client.get(f"{graph.me}/todo/lists/{created['id']}").json()["displayName"] == "Vacation"
    # To Do does not refuse a name that is taken: it numbers the new list
    again = graph.client.post(f"{graph.me}/todo/lists", json={"displayName": "Vacation"})
    assert again.status_code == 201 and again.json()["displayName"] == "Vacation (1)"


def test_the_built_in_lists_cannot_be_renamed_or_deleted(graph: Graph) -> None:
    default = _default_list(graph)
    renamed = graph.client.patch(f"{graph.me}/todo/lists/{default}", json={"displayName": "Mine"})
    assert renamed.status_code == 400
    assert renamed.json()["error"]["code"] == "invalidRequest"
    assert "can't be renamed" in renamed.json()["error"]["message"]
    assert graph.client.delete(f"{graph.me}/todo/lists/{default}").status_code == 400
    assert graph.client.get(f"{graph.me}/todo/lists/{default}").json()["displayName"] == "Tasks"

    mine = _new_list(graph)
    assert graph.client.delete(f"{graph.me}/todo/lists/{mine}").status_code == 204
    gone = graph.client.get(f"{graph.me}/todo/lists/{mine}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "ErrorItemNotFound"


# -- tasks and linked resources ------------------------------------------------------------------------------
def test_a_new_task_as_to_do_shows_it(graph: Graph) -> None:
    task = _new_task(graph, _default_list(graph))
    flagged = next(x["id"] for x in _lists(graph) if x["wellknownListName"] == "flaggedEmails")
    assert graph.client.get(f"{graph.me}/todo/lists/{flagged}/tasks/{task['id']}").status_code == 404
    assert STAMP.match(task["createdDateTime"]) and STAMP.match(task["lastModifiedDateTime"])
    assert task["status"] == "notStarted" and task["importance"] == "normal" and task["isReminderOn"] is False
    assert task["body"] == {"content": "", "contentType": "text"}
    assert task["hasAttachments"] is False and task["categories"] == []
    assert "changeKey" not in task  # To Do has an etag only
    assert "dueDateTime" not in task and "completedDateTime" not in task  # unset: left out
    assert re.fullmatch(r'W/".+"', task["@odata.etag"])


def test_create_a_task_with_a_linked_resource_and_expand_it(graph: Graph) -> None:
    list_id = _default_list(graph)
    link = {"webUrl": "http://microsoft.com", "applicationName": "Microsoft", "displayName": "Microsoft"}
    created = _new_task(graph, list_id, linkedResources=[{**link, "externalId": "crm-42"}])
    assert len(created["linkedResources"]) == 1
    assert GUID.match(created["linkedResources"][0]["id"])

    url = f"{graph.me}/todo/lists/{list_id}/tasks/{created['id']}"
    assert "linkedResources" not in graph.client.get(url).json()  # a navigation property
    expanded = graph.client.get(url, params={"$expand": "linkedResources"}).json()
    assert expanded["linkedResources"] == [
        {"id": created["linkedResources"][0]["id"], **link, "externalId": "crm-42"}
    ]
    listed = graph.client.get(f"{graph.me}/todo/lists/{list_id}/tasks", params={"$expand": "linkedResources"})
    assert listed.json()["value"][0]["linkedResources"][0]["externalId"] == "crm-42"

    two = graph.client.post(
        f"{graph.me}/todo/lists/{list_id}/tasks", json={"title": "Two links", "linkedResources": [link, link]}
    )
    assert (
        two.status_code == 400
        and two.json()["error"]["message"] == "Only one item in linkedResources is allowed."
    )


def test_linked_resources_through_their_own_routes(graph: Graph) -> None:
    list_id = _default_list(graph)
    task = _new_task(graph, list_id)
    links = f"{graph.me}/todo/lists/{list_id}/tasks/{task['id']}/linkedResources"
    response = graph.client.post(
        links,
        json={
            "webUrl": "https://microsoft.com",
            "applicationName": "Microsoft",
            "displayName": "Microsoft",
            "externalId": "dk9cddce2-dce2-f9dd-e2dc-cdf9e2dccdf9",
        },
    )
    assert response.status_code == 201
    link = response.json()
    assert GUID.match(link["id"]) and link["externalId"] == "dk9cddce2-dce2-f9dd-e2dc-cdf9e2dccdf9"
    task_url = f"{graph.me}/todo/lists/{list_id}/tasks/{task['id']}"
    after_add = graph.client.get(task_url).json()["@odata.etag"]
    assert after_add != task["@odata.etag"]  # the link lives in the task: the task changed

    assert [x["id"] for x in graph.client.get(links).json()["value"]] == [link["id"]]
    patched = graph.client.patch(f"{links}/{link['id']}", json={"displayName": "Renamed"})
    assert patched.status_code == 200 and patched.json()["displayName"] == "Renamed"
    assert patched.json()["externalId"] == link["externalId"]  # untouched properties stay
    assert graph.client.get(f"{links}/{link['id']}").json()["displayName"] == "Renamed"
    assert graph.client.get(task_url).json()["@odata.etag"] != after_add

    assert graph.client.delete(f"{links}/{link['id']}").status_code == 204
    assert graph.client.get(f"{links}/{link['id']}").status_code == 404
    assert graph.client.get(links).json()["value"] == []


def test_completing_a_task_stamps_and_clears_completed_date_time(graph: Graph) -> None:
    list_id = _default_list(graph)
    task = _new_task(graph, list_id)
    url = f"{graph.me}/todo/lists/{list_id}/tasks/{task['id']}"
    done = graph.client.patch(url, json={"status": "completed"}).json()
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert done["completedDateTime"] == {"dateTime": f"{today}T00:00:00.0000000", "timeZone": "UTC"}
    assert (
        graph.client.patch(url, json={"title": "Still done"}).json()["completedDateTime"]
        == done["completedDateTime"]
    )
    reopened = graph.client.patch(url, json={"status": "inProgress"}).json()
    assert "completedDateTime" not in reopened
    bad = graph.client.patch(url, json={"status": "finished"})
    assert bad.status_code == 400


def test_a_due_date_is_a_date_at_midnight_of_its_zone(graph: Graph) -> None:
    list_id = _default_list(graph)
    task = _new_task(graph, list_id)
    url = f"{graph.me}/todo/lists/{list_id}/tasks/{task['id']}"
    # the docs' update example: 16:00 Eastern comes back as the day's midnight Eastern, in UTC
    due = {"dateTime": "2020-07-25T16:00:00", "timeZone": "Eastern Standard Time"}
    updated = graph.client.patch(url, json={"dueDateTime": due}).json()
    assert updated["dueDateTime"] == {"dateTime": "2020-07-25T04:00:00.0000000", "timeZone": "UTC"}
    # a time of day in UTC is dropped (microsoft-graph-docs-contrib #2136)
    gmt = graph.client.patch(
        url, json={"dueDateTime": {"dateTime": "2020-07-25T04:10:00", "timeZone": "GMT"}}
    )
    assert gmt.json()["dueDateTime"] == {"dateTime": "2020-07-25T00:00:00.0000000", "timeZone": "UTC"}
    # a reminder keeps its time of day
    reminder = {"dateTime": "2020-07-24T09:30:00", "timeZone": "W. Europe Standard Time"}
    reminded = graph.client.patch(url, json={"reminderDateTime": reminder, "isReminderOn": True}).json()
    assert reminded["reminderDateTime"] == {"dateTime": "2020-07-24T07:30:00.0000000", "timeZone": "UTC"}
    # Prefer: outlook.timezone shows them in the asked zone, named the Windows way
    shown = graph.client.get(
        url, headers={"Prefer": 'IdType="ImmutableId", outlook.timezone="Europe/Berlin"'}
    ).json()
    assert shown["dueDateTime"] == {
        "dateTime": "2020-07-25T02:00:00.0000000",
        "timeZone": "W. Europe Standard Time",
    }
    cleared = graph.client.patch(url, json={"dueDateTime": None}).json()
    assert "dueDateTime" not in cleared


def test_if_match_with_a_stale_etag_answers_412(graph: Graph) -> None:
    list_id = _default_list(graph)
    task = _new_task(graph, list_id)
    url = f"{graph.me}/todo/lists/{list_id}/tasks/{task['id']}"
    fresh = graph.client.patch(url, json={"title": "v2"}, headers={"If-Match": task["@odata.etag"]})
    assert fresh.status_code == 200
    stale = graph.client.patch(url, json={"title": "v3"}, headers={"If-Match": task["@odata.etag"]})
    assert stale.status_code == 412
    assert graph.client.delete(url, headers={"If-Match": task["@odata.etag"]}).status_code == 412
    assert graph.client.get(url).json()["title"] == "v2"
    assert graph.client.delete(url, headers={"If-Match": fresh.json()["@odata.etag"]}).status_code == 204


def test_filter_on_status_and_on_a_linked_resource(graph: Graph) -> None:
    list_id = _default_list(graph)
    tasks = f"{graph.me}/todo/lists/{list_id}/tasks"
    _new_task(graph, list_id, title="open")
    _new_task(graph, list_id, title="done", status="completed")
    _new_task(
        graph, list_id, title="linked", linkedResources=[{"applicationName": "exsync", "externalId": "x-1"}]
    )
    completed = graph.client.get(tasks, params={"$filter": "status eq 'completed'"}).json()["value"]
    assert [t["title"] for t in completed] == ["done"]
    linked = graph.client.get(tasks, params={"$filter": "linkedResources/any(r: r/externalId eq 'x-1')"})
    assert [t["title"] for t in linked.json()["value"]] == ["linked"]


# -- delta ---------------------------------------------------------------------------------------------------
def _round(graph: Graph, url: str, **kwargs: Any) -> tuple[list[dict[str, Any]], str, int]:
    """One delta round: every value, the deltaLink, and how many pages it took."""
    values: list[dict[str, Any]] = []
    pages = 0
    while True:
        page = graph.client.get(url, **kwargs).json()
        pages += 1
        values.extend(page["value"])
        if "@odata.deltaLink" in page:
            return values, str(page["@odata.deltaLink"]), pages
        url = page["@odata.nextLink"]


def test_tasks_delta_rounds(graph: Graph) -> None:
    list_id = _new_list(graph)
    ids = [_new_task(graph, list_id, title=f"task {n}")["id"] for n in range(3)]
    start = f"{graph.me}/todo/lists/{list_id}/tasks/delta"
    values, delta_link, pages = _round(
        graph, start, headers={"Prefer": 'IdType="ImmutableId", odata.maxpagesize=2'}
    )
    assert pages == 2 and sorted(v["id"] for v in values) == sorted(ids)
    assert all("@odata.type" not in v for v in values)  # To Do's delta items carry no type

    quiet, quiet_link, _ = _round(graph, delta_link)
    assert quiet == []

    tasks = f"{graph.me}/todo/lists/{list_id}/tasks"
    graph.client.patch(f"{tasks}/{ids[0]}", json={"status": "completed"}).raise_for_status()
    assert graph.client.delete(f"{tasks}/{ids[1]}").status_code == 204
    changes, _, _ = _round(graph, quiet_link)
    assert {v["id"]: v.get("status") for v in changes if "@removed" not in v} == {ids[0]: "completed"}
    assert [v for v in changes if "@removed" in v] == [{"id": ids[1], "@removed": {"reason": "deleted"}}]
    replayed, _, _ = _round(graph, quiet_link)  # a deltaLink used twice answers the same changes
    assert sorted(v["id"] for v in replayed) == sorted(v["id"] for v in changes)

    graph.control.post("/_sandbox/expire-delta-tokens").raise_for_status()
    expired = graph.client.get(quiet_link)
    assert expired.status_code == 410 and expired.json()["error"]["code"] == "syncStateNotFound"


def test_a_tasks_delta_page_has_the_shape_of_the_docs_example(graph: Graph) -> None:
    list_id = _new_list(graph)
    _new_task(graph, list_id, title="empty task3")
    page = graph.client.get(f"{graph.me}/todo/lists/{list_id}/tasks/delta").json()
    example = load_examples()["todotask-delta.response.http"]
    assert same_shape(page, example) == []


def test_lists_delta(graph: Graph) -> None:
    values, delta_link, _ = _round(graph, f"{graph.me}/todo/lists/delta")
    assert {v["wellknownListName"] for v in values} == {"defaultList", "flaggedEmails"}
    added = _new_list(graph, "Groceries")
    changes, delta_link, _ = _round(graph, delta_link)
    assert [(v["id"], v["displayName"]) for v in changes] == [(added, "Groceries")]
    graph.client.delete(f"{graph.me}/todo/lists/{added}").raise_for_status()
    changes, _, _ = _round(graph, delta_link)
    assert changes == [{"id": added, "@removed": {"reason": "deleted"}}]


# -- permissions ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, tail", [("GET", "/todo/lists"), ("POST", "/todo/lists"), ("GET", "/todo/lists/delta")]
)
def test_a_denied_tasks_permission_shuts_to_do_only(graph: Graph, method: str, tail: str) -> None:
    graph.control.post(
        "/_sandbox/permissions", json={"userPrincipalName": graph.upn, "deny": ["tasks"]}
    ).raise_for_status()
    denied = graph.client.request(
        method, f"{graph.me}{tail}", json={"displayName": "x"} if method == "POST" else None
    )
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "ErrorAccessDenied"
    assert graph.client.get(f"{graph.me}/contacts").status_code == 200
