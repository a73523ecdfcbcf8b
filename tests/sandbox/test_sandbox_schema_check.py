"""The hook the sandbox tests check every response with (graph_schema), and the documentation examples they
compare shapes with (examples), tested on Microsoft's own examples and on handcrafted mistakes."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from examples import Example, load_examples, load_index, parse_example, same_shape
from graph_schema import GraphSchema, SchemaViolation, wire_segments
from sandbox_fixtures import Graph

import exsync.sandbox.resources  # noqa: F401  (registers the sandbox's routes)
from exsync.sandbox.router import ROUTES, Route


@pytest.fixture(scope="module")
def schema() -> GraphSchema:
    return GraphSchema.load()


@pytest.fixture(scope="module")
def examples() -> dict[str, Example]:
    return load_examples()


# Every example response: the request it answers (as the docs address it) and the JSON pointers INDEX.md says
# are not schema-valid (empty: valid).
CALENDAR_VIEW = "/me/calendarView/delta"
WINDOW = "?startDateTime=2016-12-01T00:00:00Z&endDateTime=2016-12-30T00:00:00Z"
MAIL_FOLDER = "/me/mailfolders('AQMkADNkNAAAgEMAAAA')/messages/delta"
EVENTS = "event-delta.calendarView"
MESSAGES = "message-delta.concept"
RESPONSES: dict[str, tuple[str, str, set[str]]] = {
    "contact-delta.response.http": ("GET", "/me/contactfolders/{id}/contacts/delta", set()),
    f"{EVENTS}.response.http": (
        "GET", CALENDAR_VIEW + WINDOW, {"/value/0/responseStatus/response", "/value/0/responseStatus/time"},
    ),
    f"{EVENTS}.concept.step1.response.http": ("GET", CALENDAR_VIEW + WINDOW, set()),
    f"{EVENTS}.concept.step2.response.http": ("GET", CALENDAR_VIEW + "?$skiptoken=a", set()),
    f"{EVENTS}.concept.step3-final.response.http": ("GET", CALENDAR_VIEW + "?$skiptoken=b", set()),
    f"{EVENTS}.concept.nextround.response.http": ("GET", CALENDAR_VIEW + "?$deltatoken=c", set()),
    "todotask-delta.response.http": ("GET", "/me/todo/lists/{todoTaskListId}/tasks/delta", set()),
    "message-delta.response.http": (
        "GET",
        "/me/mailFolders/{id}/messages/delta",
        {"/value/0/receivedDateTime", "/value/0/sentDateTime", "/value/0/body/contentType"},
    ),
    f"{MESSAGES}.round1-page1.response.json": ("GET", MAIL_FOLDER + "?$select=subject,sender,isRead", set()),
    f"{MESSAGES}.round1-page2.response.json": ("GET", MAIL_FOLDER + "?$skiptoken=a", set()),
    f"{MESSAGES}.round1-page3-final.response.json": ("GET", MAIL_FOLDER + "?$skiptoken=b", set()),
    f"{MESSAGES}.round2.response.json": ("GET", MAIL_FOLDER + "?$deltatoken=c", {"/value/1/isRead"}),
}  # fmt: skip
OPERATIONS = {
    "contact": "GET /users/{user-id}/contactFolders/{contactFolder-id}/contacts/delta()",
    "event": "GET /users/{user-id}/calendarView/delta()",
    "todotask": "GET /users/{user-id}/todo/lists/{todoTaskList-id}/tasks/delta()",
    "message": "GET /users/{user-id}/mailFolders/{mailFolder-id}/messages/delta()",
}
REQUESTS = {"json-batch.request.http", "json-batch.dependsOn.request-body.json"}  # batch request bodies
BATCH_RESPONSE = "json-batch.response.http"  # not JSON verbatim (a trailing comma)
VALID = sorted(name for name, (_, _, bad) in RESPONSES.items() if not bad)
INVALID = sorted(name for name, (_, _, bad) in RESPONSES.items() if bad)


def contact(n: int = 1, **values: Any) -> dict[str, Any]:
    """A contact as Graph serves it: every structural property, unset ones null or []."""
    body: dict[str, Any] = {
        "@odata.etag": f'W/"EQAAABYAAAARn2vdzPFjSbaPPxzjlzOTAAAB{n:04d}"',
        "id": f"AAMkADNkNAAA{n:06d}=",
        "createdDateTime": "2024-03-01T09:30:00Z",
        "lastModifiedDateTime": "2024-03-02T10:00:00.1234567Z",
        "changeKey": f"EQAAABYAAAARn2vdzPFjSbaPPxzjlzOTAAAB{n:04d}",
        "categories": ["Clients"],
        "parentFolderId": "AQMkADNkNAAAgEOAAAA",
        "birthday": None,
        "fileAs": "Swope, Dana",
        "displayName": f"Dana Swope {n}",
        "givenName": "Dana",
        "initials": None,
        "middleName": None,
        "nickName": None,
        "surname": "Swope",
        "title": None,
        "yomiGivenName": None,
        "yomiSurname": None,
        "yomiCompanyName": None,
        "generation": None,
        "imAddresses": [],
        "jobTitle": "Buyer",
        "companyName": "Contoso",
        "department": None,
        "officeLocation": None,
        "profession": None,
        "businessHomePage": None,
        "assistantName": None,
        "manager": None,
        "homePhones": [],
        "mobilePhone": "+1 425 555 0100",
        "businessPhones": ["+1 425 555 0101"],
        "spouseName": None,
        "personalNotes": "",
        "children": [],
        "emailAddresses": [{"name": "Dana Swope", "address": f"dana{n}@contoso.com"}],
        "homeAddress": {},
        "businessAddress": {
            "street": "1 Microsoft Way",
            "city": "Redmond",
            "state": "WA",
            "countryOrRegion": "United States",
            "postalCode": "98052",
        },
        "otherAddress": {},
    }
    body.update(values)
    return body


def page(*items: dict[str, Any], link: str = "@odata.deltaLink") -> dict[str, Any]:
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(contact)",
        link: "https://graph.microsoft.com/v1.0/me/contactFolders/f1/contacts/delta?$deltatoken=abc",
        "value": list(items),
    }


# ------------------------------------------------------------------------------------------------------
# The examples themselves


def test_every_example_is_in_the_index_and_in_this_test_and_verbatim(examples: dict[str, Example]) -> None:
    index = {entry["file"]: entry for entry in load_index()}
    assert set(examples) == set(index)
    assert set(examples) == set(RESPONSES) | REQUESTS | {BATCH_RESPONSE}
    for name, example in examples.items():
        assert hashlib.sha256(example.raw.encode("utf-8")).hexdigest() == index[name]["sha256"], name
        assert example.notes == index[name]["note"]
        assert bool(example.repairs) == (not index[name]["body_is_valid_json"]), name
        if "not schema-valid" in example.notes:
            assert name in INVALID


def test_the_parser_reads_status_lines_request_lines_and_bare_bodies(examples: dict[str, Example]) -> None:
    contacts = examples["contact-delta.response.http"]
    assert (contacts.status, contacts.start_line) == (200, "HTTP/1.1 200 OK")
    assert contacts.header("content-type") == "application/json"
    assert examples["todotask-delta.response.http"].headers["Content-length"] == "337"  # wrong, but verbatim
    batch = examples[BATCH_RESPONSE]
    assert (batch.status, batch.start_line) == (200, "200 OK")
    assert batch.repairs and "trailing comma" in batch.repairs[0]
    assert [r["id"] for r in batch.body["responses"]] == ["1", "3", "5", "2", "4"]
    request = examples["json-batch.request.http"]
    assert request.status is None and request.is_request
    assert (request.request_method, request.request_url) == (
        "POST",
        "https://graph.microsoft.com/v1.0/$batch",
    )
    bare = examples["message-delta.concept.round2.response.json"]
    assert (bare.status, bare.headers, bare.start_line) == (None, {}, "")


def test_the_repair_touches_only_trailing_commas() -> None:
    raw = 'HTTP/1.1 200 OK\n\n{"a": "x,}", "b": [1, 2 ,\n ], "c": {"d": "\\",]",\n}}'
    example = parse_example("x.http", raw)
    assert example.body == {"a": "x,}", "b": [1, 2], "c": {"d": '",]'}}
    assert len(example.repairs) == 1
    with pytest.raises(ValueError, match="not JSON"):
        parse_example("y.json", '{"a": 1 "b": 2}')
    with pytest.raises(ValueError, match="neither a status line nor a request line"):
        parse_example("z.http", "hello\n\n{}")


@pytest.mark.parametrize("name", VALID)
def test_the_schema_valid_examples_validate_at_their_operation(
    schema: GraphSchema, examples: dict[str, Example], name: str
) -> None:
    method, url, _ = RESPONSES[name]
    example = examples[name]
    operation = schema.check(
        method, "https://graph.microsoft.com/v1.0" + url, example.status or 200, example.body
    )
    assert operation == OPERATIONS[name.split("-", 1)[0]]


@pytest.mark.parametrize("name", INVALID)
def test_the_examples_index_md_calls_invalid_fail_at_the_right_property(
    schema: GraphSchema, examples: dict[str, Example], name: str
) -> None:
    method, url, bad = RESPONSES[name]
    with pytest.raises(SchemaViolation) as caught:
        schema.check(method, "https://127.0.0.1:8443/v1.0" + url, 200, examples[name].body)
    assert set(caught.value.pointers) == bad
    assert caught.value.operation == OPERATIONS[name.split("-", 1)[0]]
    for pointer in bad:
        assert pointer in str(caught.value)


def test_the_batch_examples(schema: GraphSchema, examples: dict[str, Example]) -> None:
    for name in REQUESTS:
        assert schema.check_schema("graphJsonBatch.BatchRequest", examples[name].body)
    response = examples[BATCH_RESPONSE]
    assert schema.check_schema("graphJsonBatch.BatchResponse", response.body)
    # its sub-requests (drive, planner, groups, PATCH /me, users) are outside the subset: not silently passed
    with pytest.raises(
        SchemaViolation, match=r"no schema for GET /me/drive/root:/\{file\}:/content"
    ) as caught:
        schema.check(
            "POST", "/v1.0/$batch", 200, response.body, request_body=examples["json-batch.request.http"].body
        )
    assert "/responses/0/body" in caught.value.pointers


# ------------------------------------------------------------------------------------------------------
# Matching paths


FOLDER = "/users/{user-id}/contactFolders/{contactFolder-id}"
MAIL = "/users/{user-id}/mailFolders/{mailFolder-id}"


@pytest.mark.parametrize(
    ("method", "url", "operation"),
    [
        ("GET", "https://127.0.0.1:8443/v1.0/users/u1/contactFolders", "GET /users/{user-id}/contactFolders"),
        ("GET", "https://graph.microsoft.com/v1.0/me/CONTACTFOLDERS/f1/contacts", f"GET {FOLDER}/contacts"),
        ("get", "/v1.0/me/contactFolders('f1')/contacts/c1", f"GET {FOLDER}/contacts/{{contact-id}}"),
        ("GET", "/v1.0/me/contactFolders/f1/contacts/delta()", f"GET {FOLDER}/contacts/delta()"),
        ("GET", "/v1.0/me/contactFolders/f1/contacts/delta?$deltatoken=x", f"GET {FOLDER}/contacts/delta()"),
        ("GET", "/v1.0/me/mailfolders('AQMk%3D%3D')/messages/delta", f"GET {MAIL}/messages/delta()"),
        ("GET", "/v1.0/me/mailFolders/inbox/messages/AAMk%2Fx%3D", f"GET {MAIL}/messages/{{message-id}}"),
        ("GET", "/v1.0/users/u1/messages/m1/$value", "GET /users/{user-id}/messages/{message-id}/$value"),
        ("GET", "/v1.0/users/u1/events/e1/instances?startDateTime=a&endDateTime=b",
         "GET /users/{user-id}/events/{event-id}/instances"),
        ("DELETE", "/v1.0/subscriptions/s1", "DELETE /subscriptions/{subscription-id}"),
        ("POST", "/v1.0/$batch", "POST /$batch"),
        ("GET", "/v1.0/me/contacts/c1", "entity contact"),
        ("PATCH", "/v1.0/users/u1/contacts/c1", "entity contact"),
        ("GET", "/v1.0/me/contacts?$top=50", "entity contactCollectionResponse"),
        ("GET", "/v1.0/me/calendar", "entity calendar"),
        ("GET", "/v1.0/me/calendars", "entity calendarCollectionResponse"),
        ("GET", "/v1.0/me", "entity user"),
        ("GET", "/v1.0/users/someone@contoso.com", "entity user"),
        ("POST", "/v1.0/me/events/e1/accept", "action accept"),
        ("POST", "/v1.0/me/calendar/events/e1/tentativelyAccept", "action tentativelyAccept"),
        ("POST", "/v1.0/me/mailFolders/inbox/messages/m1/move", "entity message"),
        ("GET", "/v1.0/me/mailFolders/inbox/messages/m1/$value", "entity message MIME content"),
        ("GET", "/v1.0/me/todo/lists/l1/tasks/t1/linkedResources", "entity linkedResourceCollectionResponse"),
        ("PATCH", "/v1.0/me/todo/lists/l1/tasks/t1/linkedResources/r1", "entity linkedResource"),
        ("GET", "/v1.0/users?$count=true", "entity userCollectionResponse"),
        ("GET", "/v1.0/me/contacts/delta", "delta of contact"),
        ("GET", "/v1.0/me/contacts/delta()?$deltatoken=x", "delta of contact"),
        ("GET", "/v1.0/me/calendars/cal1", "entity calendar"),
        ("GET", "/v1.0/me/calendar/events/e1/instances", "entity eventCollectionResponse"),
        ("POST", "/v1.0/me/events/e1/cancel", "action cancel"),
        ("POST", "/v1.0/me/calendar/events/e1/cancel", "action cancel"),
        ("POST", "/v1.0/me/mailFolders", "entity mailFolder"),
        ("GET", "/v1.0/me/mailFolders/inbox", "GET /users/{user-id}/mailFolders/{mailFolder-id}"),
        ("PATCH", "/v1.0/me/mailFolders/f1", "entity mailFolder"),
        ("DELETE", "/v1.0/me/mailFolders('f1')", "entity mailFolder deleted"),
        ("POST", "/v1.0/me/mailFolders/inbox/childFolders", "entity mailFolder"),
        ("GET", "/v1.0/me/mailFolders/inbox/childFolders", "entity mailFolderCollectionResponse"),
        ("GET", "/v1.0/me/messages?$top=5", "entity messageCollectionResponse"),
        ("POST", "/v1.0/me/messages", "entity message"),
        ("POST", "/v1.0/me/mailFolders/drafts/messages", "entity message"),
        ("PATCH", "/v1.0/me/messages/m1", "entity message"),
        ("DELETE", "/v1.0/me/mailFolders/inbox/messages/m1", "entity message deleted"),
        ("POST", "/v1.0/me/mailFolders/inbox/messages/m1/copy", "entity message"),
        ("GET", "/v1.0/me/messages/m1/attachments", "entity attachmentCollectionResponse"),
        ("POST", "/v1.0/me/mailFolders/inbox/messages/m1/attachments", "entity attachment"),
        ("DELETE", "/v1.0/me/messages/m1/attachments/a1", "entity attachment deleted"),
        ("GET", "/v1.0/me/messages/m1/attachments/a1/$value", "entity attachment content"),
    ],
)  # fmt: skip
def test_paths_match_their_operation(schema: GraphSchema, method: str, url: str, operation: str) -> None:
    found = schema.operation_for(method, url)
    assert found is not None and found[0] == operation


def test_wire_segments() -> None:
    url = "https://graph.microsoft.com/v1.0/me/mailfolders('AQ''Mk')/messages/delta()?$x=1"
    assert wire_segments(url) == ["users", "me", "mailfolders", "AQ'Mk", "messages", "delta"]
    assert wire_segments("users?$select=id") == ["users"]
    assert wire_segments("/v1.0/me/events/AAMk%2F%2Bx%3D") == ["users", "me", "events", "AAMk/+x="]


def test_an_unknown_path_or_method_is_a_violation(schema: GraphSchema) -> None:
    with pytest.raises(SchemaViolation, match=r"no schema for GET /v1\.0/me/drive"):
        schema.check("GET", "https://127.0.0.1:8443/v1.0/me/drive", 200, {})
    with pytest.raises(
        SchemaViolation, match=r"no schema for DELETE /v1.0/me/calendarView \(the path has GET\)"
    ):
        schema.check("DELETE", "/v1.0/me/calendarView", 204, None)
    with pytest.raises(SchemaViolation, match="no schema for GET /beta/me/contactFolders"):
        schema.check("GET", "/beta/me/contactFolders", 200, {"value": []})


# ------------------------------------------------------------------------------------------------------
# Bodies


def test_a_full_contact_page_validates_and_a_wrong_one_names_the_property(schema: GraphSchema) -> None:
    url = "/v1.0/me/contactFolders/f1/contacts/delta"
    assert schema.check("GET", url, 200, page(*(contact(n) for n in range(3))))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"emailAddresses": "x"}, "/value/1/emailAddresses"),
        ({"emailAddresses": [{"address": 5}]}, "/value/1/emailAddresses/0/address"),
        ({"createdDateTime": "2024-13-01T00:00:00Z"}, "/value/1/createdDateTime"),
        ({"birthday": "1970-01-01"}, "/value/1/birthday"),
        ({"businessAddress": {"city": ["Redmond"]}}, "/value/1/businessAddress/city"),
        ({"homeAddress": "Redmond"}, "/value/1/homeAddress"),
        ({"categories": "Clients"}, "/value/1/categories"),
        ({"displayName": 7}, "/value/1/displayName"),
    ]
    for wrong, pointer in cases:
        with pytest.raises(SchemaViolation) as caught:
            schema.check("GET", url, 200, page(contact(0), contact(1, **wrong)))
        assert caught.value.pointers == [pointer], wrong
        assert f"at {pointer}:" in str(caught.value)
        assert "GET /v1.0/me/contactFolders/f1/contacts/delta → 200" in str(caught.value)


def test_a_handcrafted_contact_with_a_string_for_email_addresses_fails(schema: GraphSchema) -> None:
    with pytest.raises(SchemaViolation, match="'x' is not of type 'array'") as caught:
        schema.check("PATCH", "/v1.0/me/contactFolders/f1/contacts/c1", 200, contact(emailAddresses="x"))
    assert caught.value.pointers == ["/emailAddresses"]
    assert (
        caught.value.operation
        == "PATCH /users/{user-id}/contactFolders/{contactFolder-id}/contacts/{contact-id}"
    )


def test_errors_use_the_odata_error_schema(schema: GraphSchema) -> None:
    error = {
        "error": {"code": "ErrorItemNotFound", "message": "The specified object was not found in the store."}
    }
    assert schema.check("GET", "/v1.0/me/contactFolders/f1/contacts/c1", 404, error)
    assert schema.check("POST", "/v1.0/me/events/e1/accept", 429, error) == "action accept"
    with pytest.raises(SchemaViolation, match="'code' is a required property") as caught:
        schema.check("GET", "/v1.0/me/contactFolders/f1", 404, {"error": {"message": "Not found."}})
    assert caught.value.pointers == ["/error"]
    with pytest.raises(SchemaViolation, match="is not a 'date-time'"):  # format checking is on
        inner = {"request-id": "r", "date": "yesterday"}
        schema.check(
            "GET", "/v1.0/me/contactFolders/f1", 503, {"error": {**error["error"], "innerError": inner}}
        )
    with pytest.raises(SchemaViolation, match="'error' is a required property"):
        schema.check("GET", "/v1.0/me/contactFolders/f1", 400, {"code": "BadRequest", "message": "x"})


def test_the_status_picks_the_response(schema: GraphSchema) -> None:
    created = contact()
    assert schema.check("POST", "/v1.0/me/contactFolders/f1/contacts", 201, created)  # 2XX
    assert schema.check("DELETE", "/v1.0/me/contactFolders/f1/contacts/c1", 204, None)
    assert schema.check(
        "PATCH", "/v1.0/me/contactFolders/f1/contacts/c1", 204, None
    )  # Prefer: return=minimal
    assert schema.check("POST", "/v1.0/me/events/e1/decline", 202, None) == "action decline"
    with pytest.raises(
        SchemaViolation, match=r"status 200 is not declared for action accept \(declared: 202, 4XX, 5XX\)"
    ):
        schema.check("POST", "/v1.0/me/events/e1/accept", 200, None)
    with pytest.raises(SchemaViolation, match="no body, but the schema declares application/json"):
        schema.check("POST", "/v1.0/me/contactFolders/f1/contacts", 201, None)
    with pytest.raises(SchemaViolation, match="declares no body"):
        schema.check("DELETE", "/v1.0/me/contactFolders/f1/contacts/c1", 200, {"id": "c1"})
    with pytest.raises(SchemaViolation, match="status 204 must not carry a body"):
        schema.check("DELETE", "/v1.0/me/contactFolders/f1/contacts/c1", 204, {"id": "c1"})
    with pytest.raises(SchemaViolation, match="status 302 is not declared"):
        schema.check("GET", "/v1.0/me/contactFolders/f1/contacts/c1", 302, None)


def test_fallback_entities(schema: GraphSchema) -> None:
    assert schema.check("GET", "/v1.0/me", 200, {"id": "u1", "userPrincipalName": "dana@contoso.com", "x": 1})
    with pytest.raises(SchemaViolation, match="'userPrincipalName' is a required property"):
        schema.check("GET", "/v1.0/me", 200, {"id": "u1"})
    with pytest.raises(SchemaViolation, match="is not of type 'object'"):
        schema.check("GET", "/v1.0/me", 200, ["u1"])
    assert (
        schema.check("GET", "/v1.0/me/contacts", 200, {"value": [contact()]})
        == "entity contactCollectionResponse"
    )
    with pytest.raises(SchemaViolation) as caught:
        schema.check("GET", "/v1.0/me/contacts/c1", 200, contact(emailAddresses="x"))
    assert caught.value.pointers == ["/emailAddresses"]
    calendar = {
        "id": "cal1",
        "name": "Calendar",
        "canEdit": True,
        "color": "auto",
        "owner": {"name": "D", "address": "d@c.com"},
    }
    assert schema.check("GET", "/v1.0/me/calendar", 200, calendar) == "entity calendar"
    assert schema.check("GET", "/v1.0/me/calendars", 200, {"value": [calendar]})
    with pytest.raises(SchemaViolation) as caught:
        schema.check("GET", "/v1.0/me/calendars", 200, {"value": [{**calendar, "color": "mauve"}]})
    assert caught.value.pointers == ["/value/0/color"]
    resource = {
        "id": "r1",
        "webUrl": "https://crm.example/7",
        "applicationName": "CRM",
        "displayName": "Deal 7",
    }
    tasks = "/v1.0/me/todo/lists/l1/tasks/t1/linkedResources"
    assert schema.check("POST", tasks, 201, resource) == "entity linkedResource"
    assert schema.check("GET", tasks, 200, {"value": [resource]}) == "entity linkedResourceCollectionResponse"
    with pytest.raises(SchemaViolation):
        schema.check("GET", tasks + "/r1", 200, {**resource, "webUrl": 7})
    moved = {"id": "m2", "subject": "Hi", "isRead": True, "receivedDateTime": "2024-01-01T00:00:00Z"}
    assert schema.check("POST", "/v1.0/me/messages/m1/move", 201, moved) == "entity message"
    with pytest.raises(SchemaViolation):
        schema.check("POST", "/v1.0/me/messages/m1/move", 201, {**moved, "receivedDateTime": "yesterday"})


def test_fallbacks_for_mail_calendar_and_users(schema: GraphSchema) -> None:
    pdf = {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "id": "a1",
        "name": "hours.pdf",
        "contentType": "application/pdf",
        "size": 9,
        "isInline": False,
        "contentBytes": "JVBERi0xLjQK",
    }
    for messages in ("/v1.0/me/messages/m1", "/v1.0/me/mailFolders/inbox/messages/m1"):
        assert schema.check("POST", f"{messages}/attachments", 201, pdf) == "entity attachment"
        assert schema.check("GET", f"{messages}/attachments", 200, {"value": [pdf]})
        assert schema.check("DELETE", f"{messages}/attachments/a1", 204, None)
    # an attachment is checked against the schema of its @odata.type, not only the (open) base type
    with pytest.raises(SchemaViolation) as caught:
        schema.check("GET", "/v1.0/me/messages/m1/attachments/a1", 200, {**pdf, "contentBytes": 7})
    assert caught.value.pointers == ["/contentBytes"]
    with pytest.raises(SchemaViolation) as caught:
        schema.check("GET", "/v1.0/me/messages/m1/attachments", 200, {"value": [pdf, {**pdf, "size": "9"}]})
    assert caught.value.pointers == ["/value/1/size"]
    with pytest.raises(SchemaViolation):  # not one of the derived types
        schema.check("GET", "/v1.0/me/messages/m1/attachments/a1", 200, {**pdf, "@odata.type": "#x.y"})
    with pytest.raises(SchemaViolation):  # a derived type must say which it is
        schema.check(
            "GET", "/v1.0/me/messages/m1/attachments/a1", 200, {k: v for k, v in pdf.items() if k[0] != "@"}
        )
    assert schema.check(
        "GET", "/v1.0/me/messages/m1/attachments/a1/$value", 200, b"%PDF", content_type="application/pdf"
    )

    folder = {"id": "f1", "displayName": "Clients", "parentFolderId": "root", "childFolderCount": 0}
    assert schema.check("POST", "/v1.0/me/mailFolders/inbox/childFolders", 201, folder)
    with pytest.raises(SchemaViolation) as caught:
        schema.check("PATCH", "/v1.0/me/mailFolders/f1", 200, {**folder, "childFolderCount": "0"})
    assert caught.value.pointers == ["/childFolderCount"]
    moved = {"id": "m2", "subject": "Hi", "isRead": True, "receivedDateTime": "2024-01-01T00:00:00Z"}
    with pytest.raises(SchemaViolation) as caught:
        schema.check("PATCH", "/v1.0/me/mailFolders/inbox/messages/m1", 200, {**moved, "isRead": "yes"})
    assert caught.value.pointers == ["/isRead"]

    assert schema.check("POST", "/v1.0/me/calendar/events/e1/cancel", 202, None) == "action cancel"
    with pytest.raises(SchemaViolation, match="status 200 is not declared for action cancel"):
        schema.check("POST", "/v1.0/me/events/e1/cancel", 200, None)
    with pytest.raises(SchemaViolation) as caught:
        schema.check(
            "GET", "/v1.0/me/calendar/events/e1/instances", 200, {"value": [{"id": "e1", "isAllDay": 0}]}
        )
    assert caught.value.pointers == ["/value/0/isAllDay"]

    tombstone = {"id": "c9", "@removed": {"reason": "deleted"}}
    delta = {
        "@odata.deltaLink": "https://127.0.0.1/v1.0/me/contacts/delta?$deltatoken=x",
        "value": [contact(), tombstone],
    }
    assert schema.check("GET", "/v1.0/me/contacts/delta", 200, delta) == "delta of contact"
    with pytest.raises(SchemaViolation, match="leads to entity contactCollectionResponse"):
        schema.check(
            "GET",
            "/v1.0/me/contacts/delta",
            200,
            {**delta, "@odata.deltaLink": "https://127.0.0.1/v1.0/me/contacts?$skip=1"},
        )

    users = {"@odata.count": 1, "value": [{"id": "u1", "userPrincipalName": "a@b.c", "displayName": None}]}
    assert schema.check("GET", "/v1.0/users", 200, users) == "entity userCollectionResponse"
    with pytest.raises(SchemaViolation) as caught:
        schema.check(
            "GET", "/v1.0/users", 200, {"value": [{"id": "u1", "userPrincipalName": "a@b.c", "mail": 5}]}
        )
    assert caught.value.pointers == ["/value/0/mail"]


def test_raw_bodies_are_checked_for_the_content_type_only(schema: GraphSchema) -> None:
    mime = b"From: dana@contoso.com\r\nSubject: Hi\r\n\r\nHello\r\n"
    for url in ("/v1.0/me/messages/m1/$value", "/v1.0/me/mailFolders/inbox/messages/m1/$value"):
        assert schema.check("GET", url, 200, mime, content_type="message/rfc822")
        with pytest.raises(SchemaViolation, match="no body"):
            schema.check("GET", url, 200, None)
    with pytest.raises(
        SchemaViolation, match="text/html; charset=utf-8, but the schema declares application/json"
    ):
        schema.check(
            "GET", "/v1.0/me/contactFolders", 200, b"<html></html>", content_type="text/html; charset=utf-8"
        )
    with pytest.raises(
        SchemaViolation, match="a JSON body, but the schema declares application/octet-stream"
    ):
        schema.check("GET", "/v1.0/me/messages/m1/$value", 200, {"id": "m1"})


def test_paging_links_lead_back_to_the_same_operation(schema: GraphSchema) -> None:
    url = "/v1.0/me/contactFolders/f1/contacts/delta"
    body = page(contact(), link="@odata.nextLink")
    body["@odata.nextLink"] = (
        "https://127.0.0.1:8443/v1.0/me/contactFolders('f1')/contacts/delta?$skiptoken=2"
    )
    assert schema.check("GET", url, 200, body)
    body["@odata.nextLink"] = "https://127.0.0.1:8443/v1.0/me/contactFolders/f1/contacts?$skiptoken=2"
    with pytest.raises(SchemaViolation, match=re.escape(f"leads to GET {FOLDER}/contacts,")):
        schema.check("GET", url, 200, body)


def test_a_batch_checks_each_sub_response_against_its_sub_request(schema: GraphSchema) -> None:
    requests = {
        "requests": [
            {"id": "1", "method": "GET", "url": "/me/contactFolders/f1/contacts/c1"},
            {"id": "2", "method": "DELETE", "url": "/me/contactFolders/f1/contacts/c2"},
            {"id": "3", "method": "PATCH", "url": "/users/u1/contacts/c3", "body": {"givenName": "D"},
             "headers": {"Content-Type": "application/json"}},
            {"id": "4", "method": "GET", "url": "me/events/e1/instances?startDateTime=a&endDateTime=b"},
        ]
    }  # fmt: skip
    throttled = {"error": {"code": "TooManyRequests", "message": "Slow down."}}
    good: dict[str, Any] = {
        "responses": [
            {"id": "2", "status": 204, "body": None},
            {"id": "1", "status": 200, "headers": {"Content-Type": "application/json"}, "body": contact(1)},
            {"id": "3", "status": 429, "headers": {"Retry-After": "3"}, "body": throttled},
            {"id": "4", "status": 200, "body": {"value": [{"id": "e1", "subject": "x", "isAllDay": False}]}},
        ]
    }
    before = schema.checked.copy()
    assert (
        schema.check("POST", "https://127.0.0.1:8443/v1.0/$batch", 200, good, request_body=requests)
        == "POST /$batch"
    )
    assert schema.checked - before == Counter({
        ("POST /$batch", 200): 1,
        ("GET /users/{user-id}/contactFolders/{contactFolder-id}/contacts/{contact-id}", 200): 1,
        ("DELETE /users/{user-id}/contactFolders/{contactFolder-id}/contacts/{contact-id}", 204): 1,
        ("entity contact", 429): 1,
        ("GET /users/{user-id}/events/{event-id}/instances", 200): 1,
    })  # fmt: skip

    wrong = copy.deepcopy(good)
    wrong["responses"][1]["body"]["emailAddresses"] = "x"
    with pytest.raises(
        SchemaViolation, match=r"sub-request 1 \(GET /me/contactFolders/f1/contacts/c1 → 200"
    ) as caught:
        schema.check("POST", "/v1.0/$batch", 200, wrong, request_body=requests)
    assert caught.value.pointers == ["/responses/1/body/emailAddresses"]
    wrong = copy.deepcopy(good)
    wrong["responses"][2]["body"] = {"error": {"message": "Slow down."}}
    with pytest.raises(SchemaViolation, match="'code' is a required property"):
        schema.check("POST", "/v1.0/$batch", 200, wrong, request_body=requests)
    wrong = copy.deepcopy(good)
    wrong["responses"][3]["body"]["value"][0]["isAllDay"] = "false"
    with pytest.raises(SchemaViolation) as caught:
        schema.check("POST", "/v1.0/$batch", 200, wrong, request_body=requests)
    assert caught.value.pointers == ["/responses/3/body/value/0/isAllDay"]
    with pytest.raises(SchemaViolation, match="no sub-request has id '9'"):
        schema.check(
            "POST", "/v1.0/$batch", 200, {"responses": [{"id": "9", "status": 204}]}, request_body=requests
        )
    with pytest.raises(SchemaViolation, match="the batch request body is needed"):
        schema.check("POST", "/v1.0/$batch", 200, good)
    with pytest.raises(SchemaViolation, match="'status' is a required property"):  # the envelope itself
        schema.check("POST", "/v1.0/$batch", 200, {"responses": [{"id": "1"}]}, request_body=requests)


def test_validators_are_built_once_per_schema(schema: GraphSchema) -> None:
    body = page(*(contact(n) for n in range(50)))
    schema.check("GET", "/v1.0/me/contactFolders/f1/contacts/delta", 200, body)
    built = len(schema._validators)
    for _ in range(3):
        schema.check("GET", "/v1.0/users/u1/contactFolders/f2/contacts/delta", 200, body)
    assert len(schema._validators) == built
    assert GraphSchema.load() is schema


# ------------------------------------------------------------------------------------------------------
# Every route the sandbox serves has a schema


def sandbox_routes() -> list[Route]:
    return [r for routes in ROUTES._routes.values() for r in routes]


def shape_of(template: str) -> tuple[str | None, ...]:
    """A template's literal segments (lower case, ``delta()`` as ``delta``), None for each parameter."""
    return tuple(
        None if s.startswith("{") else s.lower().removesuffix("()") for s in template.strip("/").split("/")
    )


def url_of(route: Route) -> str:
    return "/v1.0/" + "/".join("p1" if s.startswith("{") else s for s in route.segments)


def test_every_route_the_sandbox_serves_has_a_schema(schema: GraphSchema) -> None:
    """A route added to the sandbox without a path of the subset or a fallback fails here (and its answers
    would fail the hook): nothing the sandbox serves goes unchecked."""
    routes = sandbox_routes()
    assert len(routes) >= 100
    unchecked, elsewhere = [], []
    for route in routes:
        template = schema.template_for(route.method, url_of(route))
        if template is None:
            unchecked.append(f"{route.method} {route.template}")
        elif shape_of(template) != shape_of(route.template):
            elsewhere.append(f"{route.method} {route.template} is checked as {template}")
    assert unchecked == []
    assert elsewhere == []


def test_every_route_answers_errors_as_odata_errors(schema: GraphSchema) -> None:
    good = {"error": {"code": "ErrorItemNotFound", "message": "The specified object was not found."}}
    for route in sandbox_routes():
        for status in (400, 404, 412, 429, 503):
            schema.check(route.method, url_of(route), status, good)
        with pytest.raises(SchemaViolation, match="'code' is a required property"):
            schema.check(route.method, url_of(route), 404, {"error": {"message": "Not found."}})


def test_every_fallback_is_a_route_the_sandbox_serves(schema: GraphSchema) -> None:
    served = {(r.method, shape_of(r.template)) for r in sandbox_routes()}
    stale = [f"{m} {t}" for m, t in schema.fallbacks() if (m, shape_of(t)) not in served]
    assert stale == []


def test_the_sandboxs_answers_on_every_fallback_pass_the_hook(graph: Graph, schema: GraphSchema) -> None:
    """One successful request on each fallback, through the conftest's hook: each fallback's schema accepts
    what the sandbox answers (a fallback no request reaches fails the test)."""
    reached: set[tuple[str, str]] = set()

    def record(response: httpx.Response) -> None:
        template = schema.template_for(response.request.method, str(response.request.url))
        if template is not None and response.status_code < 300:
            reached.add((response.request.method, template))

    graph.client.event_hooks["response"].append(record)
    me, client = graph.me, graph.client

    def call(method: str, url: str, status: int, body: Any = None, **kwargs: Any) -> Any:
        response = client.request(method, url, json=body, **kwargs)
        assert response.status_code == status, f"{method} {url}: {response.text}"
        return response.json() if "json" in response.headers.get("content-type", "") else None

    call("GET", "/v1.0/users?$count=true", 200, headers={"ConsistencyLevel": "eventual"})
    call("GET", me, 200)
    # contacts of the default folder
    contact_id = call("POST", f"{me}/contacts", 201, {"givenName": "Dana", "surname": "Swope"})["id"]
    call("GET", f"{me}/contacts", 200)
    call("GET", f"{me}/contacts/{contact_id}", 200)
    call("PATCH", f"{me}/contacts/{contact_id}", 200, {"jobTitle": "Buyer"})
    call("GET", f"{me}/contacts/delta", 200)
    call("DELETE", f"{me}/contacts/{contact_id}", 204)
    # calendars, a series' instances, meeting responses and cancellations
    calendar_id = call("GET", f"{me}/calendar", 200)["id"]
    call("GET", f"{me}/calendars", 200)
    call("GET", f"{me}/calendars/{calendar_id}", 200)
    series = {
        "subject": "Stand-up",
        "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-02T09:15:00", "timeZone": "UTC"},
        "recurrence": {
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 3},
        },
    }
    master = call("POST", f"{me}/events", 201, series)["id"]
    window = {"startDateTime": "2026-03-01T00:00:00Z", "endDateTime": "2026-03-10T00:00:00Z"}
    assert len(call("GET", f"{me}/calendar/events/{master}/instances", 200, params=window)["value"]) == 3
    organizer = graph.new_user("organizer")
    invitations = []
    for n in range(4):
        meeting = {
            "subject": f"Review {n}",
            "start": {"dateTime": f"2026-04-0{n + 1}T11:00:00", "timeZone": "UTC"},
            "end": {"dateTime": f"2026-04-0{n + 1}T12:00:00", "timeZone": "UTC"},
            "attendees": [{"emailAddress": {"address": graph.upn}, "type": "Required"}],
        }
        invitations.append(call("POST", f"/v1.0/users/{organizer}/events", 201, meeting)["id"])
    paths = ("events", "calendar/events")
    for events, mine in zip(paths, invitations[:2], strict=True):
        call("POST", f"/v1.0/users/{organizer}/{events}/{mine}/cancel", 202, {"comment": "Not this week."})
    copies = {e["subject"]: e["id"] for e in call("GET", f"{me}/events", 200)["value"]}
    for events, subject in zip(paths, ("Review 2", "Review 3"), strict=True):
        for action in ("accept", "tentativelyAccept", "decline"):  # a declined meeting leaves the calendar
            call("POST", f"{me}/{events}/{copies[subject]}/{action}", 202, {"sendResponse": False})
    # mail folders
    drafts = call("GET", f"{me}/mailFolders/drafts", 200)["id"]
    folder = call("POST", f"{me}/mailFolders", 201, {"displayName": "Clients"})["id"]
    call("PATCH", f"{me}/mailFolders/{folder}", 200, {"displayName": "Customers"})
    call("POST", f"{me}/mailFolders/{folder}/childFolders", 201, {"displayName": "2026"})
    call("GET", f"{me}/mailFolders/{folder}/childFolders", 200)
    call("DELETE", f"{me}/mailFolders/{folder}", 204)
    # messages and attachments, under /messages and under /mailFolders/{id}/messages
    file = {"@odata.type": "#microsoft.graph.fileAttachment", "name": "a.txt", "contentBytes": "aGk="}
    for n, base in enumerate((f"{me}/messages", f"{me}/mailFolders/{drafts}/messages")):
        draft = call("POST", base, 201, {"subject": f"Draft {n}"})["id"]
        call("PATCH", f"{base}/{draft}", 200, {"subject": f"Draft {n}, again"})
        attachment = call("POST", f"{base}/{draft}/attachments", 201, file)["id"]
        call("GET", f"{base}/{draft}/attachments", 200)
        call("GET", f"{base}/{draft}/attachments/{attachment}", 200)
        assert client.get(f"{base}/{draft}/attachments/{attachment}/$value").content == b"hi"
        call("DELETE", f"{base}/{draft}/attachments/{attachment}", 204)
        call("GET", f"{base}/{draft}/$value", 200)
        twin = call("POST", f"{base}/{draft}/copy", 201, {"destinationId": "drafts"})["id"]
        call("POST", f"{base}/{twin}/move", 201, {"destinationId": "deleteditems"})
        call("DELETE", f"{base}/{draft}", 204)
    call("GET", f"{me}/messages", 200)
    # linked resources of a task
    tasks_list = call("POST", f"{me}/todo/lists", 201, {"displayName": "Errands"})["id"]
    task = call("POST", f"{me}/todo/lists/{tasks_list}/tasks", 201, {"title": "Call Dana"})["id"]
    links = f"{me}/todo/lists/{tasks_list}/tasks/{task}/linkedResources"
    link = {"webUrl": "https://crm.example/7", "applicationName": "CRM", "displayName": "Deal 7"}
    link_id = call("POST", links, 201, link)["id"]
    call("GET", links, 200)
    call("GET", f"{links}/{link_id}", 200)
    call("PATCH", f"{links}/{link_id}", 200, {"displayName": "Deal 8"})
    call("DELETE", f"{links}/{link_id}", 204)

    missing = sorted(f"{m} {t}" for m, t in schema.fallbacks() if (m, t) not in reached)
    assert missing == []


# ------------------------------------------------------------------------------------------------------
# The hook on a real client


def graph_double(examples: dict[str, Example]) -> Callable[[httpx.Request], httpx.Response]:
    """Answers like the sandbox would, from the examples (and a few handcrafted bodies)."""
    events = {
        "": "event-delta.calendarView.concept.step1.response.http",
        "$skiptoken=R0usmcCM996atia_s": "event-delta.calendarView.concept.step2.response.http",
        "$skiptoken=R0usmci39OQxqJrxK4": "event-delta.calendarView.concept.step3-final.response.http",
        "$deltatoken=R0usmcMDNGg0J1E": "event-delta.calendarView.concept.nextround.response.http",
    }
    messages = {
        "": "message-delta.concept.round1-page1.response.json",
        "$skiptoken=GwcBoTmPuoTQWfcsAbkYM": "message-delta.concept.round1-page2.response.json",
        "$skiptoken=GwcBoTmPKILK4jLH7mAd1lLU": "message-delta.concept.round1-page3-final.response.json",
        # "isRead": "true"
        "$deltatoken=GwcBoTmPuoGNlgXgF1nyUNMXY": "message-delta.concept.round2.response.json",
    }

    def handle(request: httpx.Request) -> httpx.Response:
        path, query = request.url.path, request.url.query.decode()
        token = next((p for p in query.split("&") if p.startswith(("$skiptoken=", "$deltatoken="))), "")
        if path.startswith("/_sandbox/") or path == "/":
            return httpx.Response(200, html="<html><body>exsync Graph sandbox</body></html>")
        if path.endswith("/oauth2/v2.0/token"):
            return httpx.Response(200, json={"token_type": "Bearer", "expires_in": 3599, "access_token": "t"})
        if path == "/v1.0/me/calendarView/delta":
            return httpx.Response(200, json=examples[events[token]].body)
        if path == "/v1.0/me/mailfolders('AQMkADNkNAAAgEMAAAA')/messages/delta":
            return httpx.Response(200, json=examples[messages[token]].body)
        if path == "/v1.0/me/todo/lists/l1/tasks/delta":
            return httpx.Response(
                200, json=examples["message-delta.concept.round2.response.json"].body
            )  # wrong
        if path == "/v1.0/me/messages/m1/$value":
            return httpx.Response(
                200, content=b"Subject: Hi\r\n\r\nHello", headers={"Content-Type": "message/rfc822"}
            )
        if path == "/v1.0/me/contactFolders/f1":
            return httpx.Response(200, html="<html>oops</html>")
        if path.startswith("/v1.0/me/contactFolders/f1/contacts/"):
            if request.method == "DELETE":
                return httpx.Response(204)
            return httpx.Response(404, json={"error": {"code": "ErrorItemNotFound", "message": "Not found."}})
        if path == "/v1.0/$batch":
            sub_requests = json.loads(request.content)["requests"]
            responses = [
                {"id": r["id"], "status": 200, "body": contact(emailAddresses=r.get("body", []))}
                for r in sub_requests
            ]
            return httpx.Response(200, json={"responses": responses})
        return httpx.Response(404, json={"error": {"code": "BadRequest", "message": f"Unknown path {path}"}})

    return handle  # fmt: skip


def test_the_hook_checks_every_response_of_a_client(
    schema: GraphSchema, examples: dict[str, Example]
) -> None:
    hook = schema.hook()
    transport = httpx.MockTransport(graph_double(examples))
    before, ignored = schema.checked.copy(), schema.ignored.copy()
    with httpx.Client(
        transport=transport, base_url="https://127.0.0.1:8443", event_hooks={"response": [hook]}
    ) as client:
        # follow a delta round by its links, as exsync will (the links point at graph.microsoft.com)
        url = (
            "/v1.0/me/calendarView/delta?startDateTime=2016-12-01T00:00:00Z&endDateTime=2016-12-30T00:00:00Z"
        )
        pages = 0
        while url:
            body = client.get(url).json()
            pages += 1
            url = body.get("@odata.nextLink", "")
        assert pages == 3
        client.get(body["@odata.deltaLink"])
        url = "/v1.0/me/mailfolders('AQMkADNkNAAAgEMAAAA')/messages/delta?$select=subject,sender,isRead"
        while url:
            url = client.get(url).json().get("@odata.nextLink", "")
        assert client.get("/v1.0/me/messages/m1/$value").headers["content-type"] == "message/rfc822"
        assert client.get("/v1.0/me/contactFolders/f1/contacts/c9").status_code == 404
        assert client.delete("/v1.0/me/contactFolders/f1/contacts/c9").status_code == 204
        requests = [{"id": "1", "method": "GET", "url": "/me/contactFolders/f1/contacts/c1"}]
        assert client.post("/v1.0/$batch", json={"requests": requests}).status_code == 200
        # the sandbox's own endpoints are not Graph
        client.post("/_sandbox/reset")
        client.get("/")
        client.post("/contoso.onmicrosoft.com/oauth2/v2.0/token", data={"grant_type": "client_credentials"})

        with pytest.raises(SchemaViolation, match="at /value/1/isRead: 'true' is not of type 'boolean'"):
            client.get(
                "/v1.0/me/mailfolders('AQMkADNkNAAAgEMAAAA')/messages/delta?$deltatoken=GwcBoTmPuoGNlgXgF1nyUNMXY"
            )
        with pytest.raises(
            SchemaViolation, match=r"leads to GET /users/\{user-id\}/mailFolders/"
        ):  # a wrong body
            client.get("/v1.0/me/todo/lists/l1/tasks/delta")
        with pytest.raises(
            SchemaViolation, match="text/html; charset=utf-8, but the schema declares application/json"
        ):
            client.get("/v1.0/me/contactFolders/f1")
        with pytest.raises(SchemaViolation, match=r"no schema for GET /v1\.0/me/planner/tasks"):
            client.get("/v1.0/me/planner/tasks")
        requests = [{"id": "7", "method": "PATCH", "url": "/me/contactFolders/f1/contacts/c1", "body": "x"}]
        with pytest.raises(
            SchemaViolation,
            match=r"/responses/0/body/emailAddresses: 'x' is not of type 'array' \[sub-request 7",
        ):
            client.post("/v1.0/$batch", json={"requests": requests})

    checked = schema.checked - before
    assert checked[("GET /users/{user-id}/calendarView/delta()", 200)] == 4
    assert (
        checked[("GET /users/{user-id}/mailFolders/{mailFolder-id}/messages/delta()", 200)] == 4
    )  # 3 + round 2
    assert checked[("GET /users/{user-id}/messages/{message-id}/$value", 200)] == 1
    assert checked[("GET /users/{user-id}/contactFolders/{contactFolder-id}/contacts/{contact-id}", 404)] == 1
    assert (
        checked[("DELETE /users/{user-id}/contactFolders/{contactFolder-id}/contacts/{contact-id}", 204)] == 1
    )
    assert checked[("POST /$batch", 200)] == 2
    assert schema.ignored - ignored == Counter(
        {"/_sandbox/reset": 1, "/": 1, "/contoso.onmicrosoft.com/oauth2/v2.0/token": 1}
    )


def test_the_hook_can_be_told_to_ignore_other_paths(
    schema: GraphSchema, examples: dict[str, Example]
) -> None:
    transport = httpx.MockTransport(graph_double(examples))
    with httpx.Client(
        transport=transport, event_hooks={"response": [schema.hook(ignore=[r"^/v1\.0/me/planner/"])]}
    ) as client:
        assert client.get("https://127.0.0.1/v1.0/me/planner/tasks").status_code == 404
        with pytest.raises(SchemaViolation, match="no schema for POST /_sandbox/reset"):
            client.post("https://127.0.0.1/_sandbox/reset")


def test_the_hook_rejects_a_json_content_type_with_a_body_that_is_not_json(schema: GraphSchema) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"value": [', headers={"Content-Type": "application/json"})

    transport = httpx.MockTransport(handle)
    with (
        httpx.Client(transport=transport, event_hooks={"response": [schema.hook()]}) as client,
        pytest.raises(SchemaViolation, match="the body is not valid JSON"),
    ):
        client.get("https://127.0.0.1/v1.0/me/contactFolders")


# ------------------------------------------------------------------------------------------------------
# Shapes


def test_every_example_has_its_own_shape(examples: dict[str, Example]) -> None:
    for name, example in examples.items():
        assert same_shape(example.body, example) == [], name
        assert same_shape(copy.deepcopy(example.body), example.body) == [], name


def test_same_shape_finds_a_missing_key_a_wrong_type_and_a_missing_delta_link(
    examples: dict[str, Example],
) -> None:
    final = examples["event-delta.calendarView.concept.step3-final.response.http"]
    actual = copy.deepcopy(final.body)
    del actual["value"][0]["organizer"]
    actual["value"][0]["start"]["dateTime"] = 1481508000
    actual["value"][0]["subject"] = "Another subject"  # values are not compared
    actual["value"][0]["isAllDay"] = False  # nor keys the example does not have
    actual["@odata.nextLink"] = actual.pop("@odata.deltaLink").replace("$deltatoken", "$skiptoken")
    assert [d.partition(" (")[0] for d in same_shape(actual, final)] == [
        '$["@odata.deltaLink"]: missing',
        "$.value[0].start.dateTime: number where the example has string",
        "$.value[0].organizer: missing",
        '$["@odata.nextLink"]: present, but the example\'s page has only @odata.deltaLink',
    ]


def test_same_shape_compares_link_parameters(examples: dict[str, Example]) -> None:
    first = examples["contact-delta.response.http"]
    actual = copy.deepcopy(first.body)
    actual["@odata.nextLink"] = (
        "https://127.0.0.1:8443/v1.0/me/contactFolders/f1/contacts/delta?$skiptoken=abc"
    )
    assert same_shape(actual, first) == []
    actual["@odata.nextLink"] = "https://127.0.0.1:8443/v1.0/me/contactFolders/f1/contacts/delta?$skip=50"
    assert same_shape(actual, first) == [
        "$[\"@odata.nextLink\"]: query parameters ['$skip'] where the example's link has ['$skiptoken']"
    ]


def test_same_shape_matches_tombstones_with_tombstones(examples: dict[str, Example]) -> None:
    round2 = examples["event-delta.calendarView.concept.nextround.response.http"]
    tombstone, event = round2.body["value"]
    actual = {**round2.body, "value": [copy.deepcopy(e) for e in (event, tombstone, event, tombstone)]}
    assert same_shape(actual, round2) == []
    actual["value"][3]["@removed"] = "deleted"
    actual["value"][2]["attendees"] = {}
    assert same_shape(actual, round2) == [
        "$.value[2].attendees: object where the example has array ([])",
        '$.value[3]["@removed"]: string where the example has object ({"reason": "deleted"})',
    ]
    only_items = examples["event-delta.calendarView.concept.step1.response.http"]
    assert (
        same_shape({**only_items.body, "value": [tombstone]}, only_items) == []
    )  # nothing to compare it with
    assert same_shape({**only_items.body, "value": ["x"]}, only_items) == [
        "$.value[0]: string where the example's elements are ['object']"
    ]


def test_a_boolean_for_the_documented_string_quirk(examples: dict[str, Example]) -> None:
    round2 = examples["message-delta.concept.round2.response.json"]
    actual = copy.deepcopy(round2.body)
    actual["value"][1]["isRead"] = True  # what the service sends
    quirks: list[str] = []
    assert same_shape(actual, round2, quirks=quirks) == []
    assert quirks == ["$.value[1].isRead: the example has the string 'true', a documented quirk"]
    assert same_shape(actual, round2.body) == [
        '$.value[1].isRead: boolean where the example has string ("true")'
    ]
    page1 = examples["message-delta.concept.round1-page1.response.json"]
    undocumented = copy.deepcopy(page1.body)
    undocumented["value"][0]["isRead"] = "false"
    assert same_shape(undocumented, page1) == [
        "$.value[0].isRead: string where the example has boolean (false)"
    ]
