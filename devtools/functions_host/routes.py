"""Route templates as the Azure Functions host reads them (ASP.NET Core routing syntax).

The dev host must pick the same function for a URL that the real host would, or a route that works
locally can 404 (or hit the wrong handler) in Azure. So this module follows ASP.NET Core's rules for
the parts of the syntax the project uses: case-insensitive literals, ``{name}``, inline constraints
(``{id:int:min(1)}``), trailing optional parameters (``{name?}``) and catch-alls (``{*rest}``), and
segment-by-segment precedence when several templates match the same path.

Deliberately unsupported (rejected with a ValueError, so nobody relies on them by accident):
complex segments mixing text and parameters (``{a}.{b}``), default values (``{page=1}``) and the
``regex(...)`` constraint.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import unquote

Check = Callable[[str], bool]

# .NET number parsing (NumberStyles.Integer, Float, Number) tolerates this surrounding whitespace.
_DOTNET_WHITESPACE = "\t\n\v\f\r "
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)")
_FLOAT = re.compile(r"[+-]?(?:[0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_FLOAT_WORDS = frozenset({"nan", "infinity", "+infinity", "-infinity"})
_DECIMAL_MAX = Decimal(2**96 - 1)  # System.Decimal's range
_HEX_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_GUID = re.compile(rf"[0-9a-fA-F]{{32}}|{_HEX_GUID}|\{{{_HEX_GUID}\}}|\({_HEX_GUID}\)")
_ALPHA = re.compile(r"[A-Za-z]*")
_CONSTRAINT_SYNTAX = re.compile(r"([A-Za-z]+)(?:\((.*)\))?", re.DOTALL)
_INVALID_NAME_CHARS = frozenset("/{}?*")


def _parse_integer(value: str, bits: int) -> int | None:
    """Parse like .NET's Int32/Int64.TryParse (invariant culture); None where that would fail."""
    text = value.strip(_DOTNET_WHITESPACE)
    if not _INTEGER.fullmatch(text):
        return None
    number = int(text)
    limit = 1 << (bits - 1)
    return number if -limit <= number < limit else None


def _is_int(value: str) -> bool:
    return _parse_integer(value, 32) is not None


def _is_long(value: str) -> bool:
    return _parse_integer(value, 64) is not None


def _is_bool(value: str) -> bool:
    return value.strip(_DOTNET_WHITESPACE).lower() in {"true", "false"}


def _is_alpha(value: str) -> bool:
    return _ALPHA.fullmatch(value) is not None


def _is_guid(value: str) -> bool:
    return _GUID.fullmatch(value.strip(_DOTNET_WHITESPACE)) is not None


def _is_datetime(value: str) -> bool:
    """ISO 8601 only: a close enough stand-in for DateTime.TryParse in a URL segment."""
    try:
        dt.datetime.fromisoformat(value.strip(_DOTNET_WHITESPACE))
    except ValueError:
        return False
    return True


def _is_decimal(value: str) -> bool:
    text = value.strip(_DOTNET_WHITESPACE)
    if not _DECIMAL.fullmatch(text):
        return False
    try:
        return abs(Decimal(text.replace(",", ""))) <= _DECIMAL_MAX
    except InvalidOperation:
        return False


def _is_float(value: str) -> bool:
    """double and float: .NET Core 3+ parses overflow as infinity, so no range check."""
    text = value.strip(_DOTNET_WHITESPACE)
    return text.lower() in _FLOAT_WORDS or _FLOAT.fullmatch(text) is not None


def _min_length(minimum: int) -> Check:
    return lambda value: len(value) >= minimum


def _max_length(maximum: int) -> Check:
    return lambda value: len(value) <= maximum


def _length(minimum: int, maximum: int | None = None) -> Check:
    upper = minimum if maximum is None else maximum
    return lambda value: minimum <= len(value) <= upper


def _range(minimum: int | None, maximum: int | None) -> Check:
    """min/max/range compare the value as a 64-bit integer; a non-integer never matches."""

    def check(value: str) -> bool:
        number = _parse_integer(value, 64)
        if number is None:
            return False
        return (minimum is None or number >= minimum) and (maximum is None or number <= maximum)

    return check


_PLAIN_CONSTRAINTS: dict[str, Check] = {
    "int": _is_int,
    "long": _is_long,
    "bool": _is_bool,
    "alpha": _is_alpha,
    "guid": _is_guid,
    "datetime": _is_datetime,
    "decimal": _is_decimal,
    "double": _is_float,
    "float": _is_float,
}

# name -> (allowed argument counts, factory taking the integer arguments)
_ARGUMENT_CONSTRAINTS: dict[str, tuple[tuple[int, ...], Callable[..., Check]]] = {
    "minlength": ((1,), _min_length),
    "maxlength": ((1,), _max_length),
    "length": ((1, 2), _length),
    "min": ((1,), lambda n: _range(n, None)),
    "max": ((1,), lambda n: _range(None, n)),
    "range": ((2,), _range),
}

SUPPORTED_CONSTRAINTS = tuple(sorted([*_PLAIN_CONSTRAINTS, *_ARGUMENT_CONSTRAINTS]))


@dataclass(frozen=True)
class Constraint:
    """One inline constraint, kept with its source text for error messages and listings."""

    text: str
    check: Check


@dataclass(frozen=True)
class Segment:
    """One ``/``-separated piece of a template: a literal or a single parameter."""

    literal: str | None = None
    name: str | None = None
    constraints: tuple[Constraint, ...] = ()
    optional: bool = False
    catch_all: bool = False

    @property
    def rank(self) -> int:
        """Precedence digit, lower wins: literal 1, constrained 2, parameter 3, optional 4-5,
        catch-all 6-7 (a constraint makes a parameter more specific within its kind)."""
        if self.literal is not None:
            return 1
        base = 7 if self.catch_all else 5 if self.optional else 3
        return base - 1 if self.constraints else base

    def accepts(self, value: str) -> bool:
        return all(constraint.check(value) for constraint in self.constraints)


def split_path(path: str) -> list[str]:
    """Split a raw (percent-encoded) URL path into decoded segments.

    Splitting happens before decoding so an encoded ``%2F`` stays inside its segment. The leading
    slash and one trailing slash are ignored, as ASP.NET Core does.
    """
    trimmed = path.removeprefix("/").removesuffix("/")
    if not trimmed:
        return []
    return [unquote(segment) for segment in trimmed.split("/")]


class RouteTemplate:
    """A parsed route template that can match URL paths and sort against other templates."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.segments: tuple[Segment, ...] = _parse_template(text)

    def __repr__(self) -> str:
        return f"RouteTemplate({self.text!r})"

    @property
    def precedence(self) -> tuple[int, ...]:
        """Compare segment by segment; lower sorts first (more specific). A template that has
        run out of segments beats one that still has any, as in ASP.NET's decimal precedence."""
        return tuple(segment.rank for segment in self.segments)

    @property
    def sort_key(self) -> tuple[tuple[int, ...], str]:
        """Precedence, then the template text case-insensitively, like ASP.NET's tree router."""
        return self.precedence, self.text.lower()

    def match(self, path: str) -> dict[str, str] | None:
        """Return the route values for a raw URL path, or None when the template does not match.

        Absent optional parameters and an empty catch-all leave no key, as in the real host.
        """
        return self.match_segments(split_path(path))

    def match_segments(self, segments: list[str]) -> dict[str, str] | None:
        """Match already split and decoded path segments (see split_path)."""
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.catch_all:
                rest = segments[index:]
                if rest:
                    joined = "/".join(rest)
                    if not segment.accepts(joined):
                        return None
                    values[str(segment.name)] = joined
                return values
            if index >= len(segments):
                # Parsing guarantees every later segment is optional too.
                return values if segment.optional else None
            value = segments[index]
            if segment.literal is not None:
                if value.lower() != segment.literal.lower():
                    return None
            elif not value or not segment.accepts(value):
                return None
            else:
                values[str(segment.name)] = value
        return values if len(segments) == len(self.segments) else None


def _parse_template(text: str) -> tuple[Segment, ...]:
    def fail(reason: str) -> ValueError:
        return ValueError(f"Invalid route template {text!r}: {reason}")

    body = text.removeprefix("~/") if text.startswith("~/") else text.removeprefix("/")
    if body.startswith("~"):
        raise fail("a template may start with '~/' but not with '~' alone")
    body = body.removesuffix("/")
    if not body:
        return ()
    segments = tuple(_parse_segment(piece, fail) for piece in body.split("/"))
    _check_segment_order(segments, fail)
    return segments


def _check_segment_order(segments: tuple[Segment, ...], fail: Callable[[str], ValueError]) -> None:
    seen: set[str] = set()
    optional_seen = False
    for index, segment in enumerate(segments):
        if segment.name is not None:
            if segment.name.lower() in seen:
                raise fail(f"parameter {segment.name!r} appears more than once")
            seen.add(segment.name.lower())
        if segment.catch_all and index != len(segments) - 1:
            raise fail("a catch-all parameter must be the last segment")
        if optional_seen and not (segment.optional or segment.catch_all):
            raise fail("an optional parameter may only be followed by optional segments")
        optional_seen = optional_seen or segment.optional


def _parse_segment(piece: str, fail: Callable[[str], ValueError]) -> Segment:
    if not piece:
        raise fail("empty segment (two '/' in a row)")
    if piece.startswith("{") and not piece.startswith("{{") and piece.endswith("}"):
        inner = piece[1:-1]
        if "{" in inner or "}" in inner:
            raise fail(f"segment {piece!r} mixes text and parameters (not supported here)")
        return _parse_parameter(inner, fail)
    return Segment(literal=_unescape_literal(piece, fail))


def _unescape_literal(piece: str, fail: Callable[[str], ValueError]) -> str:
    """Literals may contain braces only doubled (``{{`` and ``}}``), as in ASP.NET."""
    out: list[str] = []
    index = 0
    while index < len(piece):
        char = piece[index]
        if char in "{}":
            if piece[index : index + 2] != char * 2:
                raise fail(
                    f"segment {piece!r} mixes text and parameters or has an unmatched brace "
                    "(complex segments are not supported here)"
                )
            index += 1
        if char == "?":
            raise fail(f"literal segment {piece!r} may not contain '?'")
        out.append(char)
        index += 1
    return "".join(out)


def _parse_parameter(inner: str, fail: Callable[[str], ValueError]) -> Segment:
    optional = inner.endswith("?")
    inner = inner.removesuffix("?")
    catch_all = inner.startswith("*")
    inner = inner[2:] if inner.startswith("**") else inner.removeprefix("*")
    if "=" in inner:
        raise fail(f"default values ({{{inner}}}) are not supported here; use {{name?}}")
    name, _, constraint_text = inner.partition(":")
    if not name or _INVALID_NAME_CHARS.intersection(name):
        raise fail(f"invalid parameter name {name!r}")
    if optional and catch_all:
        raise fail(f"catch-all parameter {name!r} cannot be optional")
    constraints = tuple(
        _parse_constraint(part, fail) for part in _split_constraints(constraint_text, fail)
    )
    return Segment(name=name, constraints=constraints, optional=optional, catch_all=catch_all)


def _split_constraints(text: str, fail: Callable[[str], ValueError]) -> list[str]:
    """Split ``int:range(1,5)`` on colons outside parentheses."""
    if not text:
        return []
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == ":" and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise fail(f"unbalanced parentheses in constraints {text!r}")
        current.append(char)
    if depth != 0:
        raise fail(f"unbalanced parentheses in constraints {text!r}")
    parts.append("".join(current))
    if any(not part for part in parts):
        raise fail(f"empty constraint in {text!r}")
    return parts


def _parse_constraint(text: str, fail: Callable[[str], ValueError]) -> Constraint:
    syntax = _CONSTRAINT_SYNTAX.fullmatch(text)
    if syntax is None:
        raise fail(f"malformed constraint {text!r}")
    name, raw_args = syntax.group(1).lower(), syntax.group(2)
    if name in _PLAIN_CONSTRAINTS:
        if raw_args is not None:
            raise fail(f"constraint {name!r} takes no arguments")
        return Constraint(text, _PLAIN_CONSTRAINTS[name])
    if name not in _ARGUMENT_CONSTRAINTS:
        supported = ", ".join(SUPPORTED_CONSTRAINTS)
        raise fail(f"unknown constraint {name!r} (supported: {supported})")
    arities, factory = _ARGUMENT_CONSTRAINTS[name]
    try:
        args = [int(arg.strip()) for arg in (raw_args or "").split(",")]
    except ValueError:
        raise fail(f"constraint {text!r} needs integer arguments") from None
    if len(args) not in arities:
        counts = " or ".join(str(count) for count in arities)
        raise fail(f"constraint {name!r} takes {counts} argument(s), got {text!r}")
    if name in {"minlength", "maxlength", "length"} and min(args) < 0:
        raise fail(f"constraint {text!r} needs non-negative lengths")
    if len(args) == 2 and args[0] > args[1]:
        raise fail(f"constraint {text!r} has its minimum above its maximum")
    return Constraint(text, factory(*args))
