"""HTML bodies read as plain text: what the mailbox connectors and the sandbox share."""

from __future__ import annotations

from exsync.model.html import html_to_text


def test_paragraphs_stay_apart_and_divs_only_break_lines() -> None:
    body = "<p>Bring the <b>file</b>.</p><p>Room 3</p>"
    assert html_to_text(body, paragraphs=True) == "Bring the file.\n\nRoom 3"
    assert html_to_text(body) == "Bring the file.\nRoom 3"  # a preview or a MIME text part: one line each
    # Outlook writes one <div> per line: no blank lines between them
    assert html_to_text("<div>first</div><div>second</div>", paragraphs=True) == "first\nsecond"
    assert html_to_text("a<br>b") == "a\nb"


def test_what_a_reader_does_not_see_is_left_out() -> None:
    html = "<html><head><title>t</title><style>p{}</style></head><body>Hi&nbsp;there<script>x()</script>"
    assert html_to_text(html) == "Hi there"


def test_whitespace_follows_html_rules_except_in_pre() -> None:
    assert html_to_text("<p>  many\n   spaces </p>") == "many spaces"
    assert html_to_text("<pre>a  b\n c</pre>") == "a  b\n c"
