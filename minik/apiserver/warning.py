"""``Warning`` response headers, encoded so that building them can never fail.

A warning (an unknown field under ``fieldValidation=Warn``, a deprecated API...)
is sent after the request has done its work: for a create, update or patch the
object is already committed to etcd. If encoding the header failed then, the
client would see a 500 for a write that happened — and might retry it. So this
module is total: any text becomes a valid header value.

The format is upstream's (``k8s.io/apimachinery/pkg/util/net.NewWarningHeader``,
RFC 7234): ``299 - "<text>"`` — code 299 ("miscellaneous persistent warning"),
agent ``-``, and the text quoted with ``"`` and ``\\`` escaped. Text that an HTTP
header cannot carry is made safe the way Go's ``net/http`` does it: carriage
returns and line feeds (and here every other control character) become spaces;
anything else outside ASCII is sent as UTF-8 bytes, as upstream sends it.

Like upstream's warning recorder (``k8s.io/apiserver/pkg/endpoints/filters``),
the same text is sent once, and when all the warnings together pass
:data:`TRUNCATE_AT_TOTAL_RUNES` characters, each is cut to
:data:`TRUNCATE_ITEM_RUNES` and the ones that still do not fit are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

CODE = 299
AGENT = "-"
TRUNCATE_AT_TOTAL_RUNES = 4 * 1024
TRUNCATE_ITEM_RUNES = 256

_NAME = b"warning"
_UNSENDABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # control characters but the tab


def header_value(text: str) -> bytes:
    """One ``Warning`` header value for ``text``; never raises."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    safe = _UNSENDABLE.sub(" ", quoted)
    # A lone surrogate (possible from a JSON \\ud800 escape) cannot be UTF-8: it becomes "?".
    return f'{CODE} {AGENT} "{safe}"'.encode("utf-8", "replace")


def texts(messages: Iterable[str]) -> list[str]:
    """The warnings to send: empty and repeated texts dropped, long lists truncated."""
    unique: list[str] = []
    for message in messages:
        if message and message not in unique:
            unique.append(message)
    if sum(len(m) for m in unique) <= TRUNCATE_AT_TOTAL_RUNES:
        return unique
    kept: list[str] = []
    total = 0
    for message in unique:
        cut = message[:TRUNCATE_ITEM_RUNES]
        if total + len(cut) > TRUNCATE_AT_TOTAL_RUNES:
            break
        kept.append(cut)
        total += len(cut)
    return kept


def headers(messages: Iterable[str]) -> list[tuple[bytes, bytes]]:
    """Raw ``(name, value)`` header pairs for an ASGI response."""
    return [(_NAME, header_value(text)) for text in texts(messages)]
