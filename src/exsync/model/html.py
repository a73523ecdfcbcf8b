"""HTML → plain text, as a reader sees it: HTML's whitespace rules, a line break per block element, no
script or style. Shared by the mailbox connectors (formatted bodies) and the sandbox (previews, MIME)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SKIPPED_TAGS = frozenset({"script", "style", "head", "title", "template"})
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "caption", "center", "dd", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
    }
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")


class TextExtractor(HTMLParser):
    """Collects the text a reader would see: HTML's whitespace rules, a line break per block element."""

    def __init__(self, paragraphs: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self._paragraphs = paragraphs  # a blank line between <p>s, else a line break as for other blocks
        self._out: list[str] = []
        self._skipping: list[str] = []  # open elements whose content is not shown
        self._pre = 0
        self._line_start = True
        self.visible = 0  # non-space characters so far, so that a preview can stop reading early

    def _newline(self) -> None:
        if not self._line_start:
            self._out.append("\n")
            self._line_start = True

    def _paragraph(self) -> None:
        """A blank line between paragraphs (not before the first): `<p>` separates, `<div>` only breaks."""
        self._newline()
        if self._out and not (self._out[-1].endswith("\n\n") or "".join(self._out[-2:]).endswith("\n\n")):
            self._out.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            # mail HTML often never closes <head>: the body must not be swallowed with it
            self._skipping = [t for t in self._skipping if t not in ("head", "title")]
        if tag in _SKIPPED_TAGS:
            self._skipping.append(tag)
            return
        if self._skipping:
            return
        if tag == "br":
            self._out.append("\n")
            self._line_start = True
        elif tag == "p" and self._paragraphs:
            self._paragraph()
        elif tag in _BLOCK_TAGS:
            self._newline()
        elif tag in _CELL_TAGS and not self._line_start:
            self._out.append(" ")
        if tag == "pre":
            self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag in self._skipping:
                del self._skipping[len(self._skipping) - 1 - self._skipping[::-1].index(tag) :]
            return
        if tag == "p" and self._paragraphs:
            self._paragraph()
        elif tag in _BLOCK_TAGS:
            self._newline()
        if tag == "pre" and self._pre:
            self._pre -= 1

    def handle_data(self, data: str) -> None:
        if self._skipping or not data:
            return
        data = data.replace("\xa0", " ")
        if not self._pre:
            data = _HTML_SPACE.sub(" ", data)
            if self._line_start:
                data = data.lstrip(" ")
        if data:
            self._out.append(data)
            self._line_start = data.endswith("\n")
            self.visible += len(data) - data.count(" ") - data.count("\n")

    def text(self) -> str:
        lines = "".join(self._out).split("\n")
        return _MANY_BLANK_LINES.sub("\n\n", "\n".join(line.rstrip() for line in lines)).strip("\n")


def html_to_text(html: str, *, paragraphs: bool = False) -> str:
    """Plain text of an HTML document: block elements become line breaks, script and style are dropped;
    with ``paragraphs``, a blank line separates `<p>` paragraphs (a formatted body, read as written)."""
    parser = TextExtractor(paragraphs)
    parser.feed(html)
    parser.close()
    return parser.text()
