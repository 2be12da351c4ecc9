"""Entity tags for cacheable reads: a strong ETag from the body, and If-None-Match (RFC 9110).

The tag is the sha256 of the body's canonical JSON (sorted keys, no spaces), so it changes
exactly when the representation does: any change to a schedule or one of its care logs that
shows in the body gives a new tag, and an unchanged body keeps it across requests and workers.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel

#: One entity-tag of a list: optional weak prefix, then a quoted opaque tag (RFC 9110 §8.8.3).
_ENTITY_TAG = re.compile(r'(W/)?"([^"]*)"[ \t]*(?:,|$)')


def canonical_json(body: BaseModel | Any) -> bytes:
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def strong_etag(body: BaseModel | Any) -> str:
    """`"<sha256 hex>"` of the body's canonical JSON."""
    return '"' + hashlib.sha256(canonical_json(body)).hexdigest() + '"'


def _opaque(tag: str) -> str:
    tag = tag.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    return tag.strip('"')


def if_none_match_hits(header: str | None, current_etag: str) -> bool:
    """True when `If-None-Match` names the current representation, so the answer is 304.

    `*` matches any current representation; otherwise each listed tag is compared with the
    weak comparison RFC 9110 prescribes for If-None-Match (a `W/` prefix is ignored). A
    malformed header matches nothing, so the client simply gets the full 200.
    """
    if header is None or not header.strip():
        return False
    if header.strip() == "*":
        return True
    current = _opaque(current_etag)
    text, pos, tags = header.strip(), 0, []
    while pos < len(text):
        if text[pos] in ", \t":  # empty list elements and whitespace are allowed
            pos += 1
            continue
        match = _ENTITY_TAG.match(text, pos)
        if match is None:
            return False
        tags.append(match.group(2))
        pos = match.end()
    return current in tags
