"""Company names as people type them: one company per name, whatever the spelling.

A mailbox contact's company name links to an existing company when their normalised names agree
("ACME Ltd.", "Acme Limited" and "acme" are one company), so sync never creates a company per spelling.
"""

from __future__ import annotations

import re
import unicodedata

# Legal forms that say nothing about which company it is (trailing words only).
LEGAL_FORMS = frozenset(
    [
        "ltd", "limited", "inc", "incorporated", "llc", "llp", "lp", "plc", "corp", "corporation", "co",
        "company", "gmbh", "ag", "kg", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "oy", "ab", "as",
        "aps", "pty", "pte", "kk",
    ]
)  # fmt: skip
_NOT_WORD = re.compile(r"[\W_]+")


def company_key(name: str) -> str:
    """The normalised form two spellings of one company share ("" for no name)."""
    folded = unicodedata.normalize("NFKC", name).casefold().replace("&", " and ")
    words = [w for w in _NOT_WORD.split(folded) if w]
    while len(words) > 1 and words[-1] in LEGAL_FORMS:
        words.pop()
    return " ".join(words)
