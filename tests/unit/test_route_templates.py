"""Route templates must behave like the Azure Functions host's (ASP.NET Core) routing, or a route
that works under the dev host would 404 or reach the wrong function in Azure."""

import pytest

from devtools.functions_host.routes import RouteTemplate, split_path


def best(templates: list[str], path: str) -> str | None:
    """The template the host would choose for a path (ignoring HTTP methods)."""
    ordered = sorted((RouteTemplate(text) for text in templates), key=lambda t: t.sort_key)
    return next((t.text for t in ordered if t.match(path) is not None), None)


# --- parsing -------------------------------------------------------------------------------------


def test_segments_are_classified() -> None:
    template = RouteTemplate("api/patients/{patient_id:int:min(1)}/{view?}")
    kinds = [
        (s.literal, s.name, [c.text for c in s.constraints], s.optional) for s in template.segments
    ]
    assert kinds == [
        ("api", None, [], False),
        ("patients", None, [], False),
        (None, "patient_id", ["int", "min(1)"], False),
        (None, "view", [], True),
    ]


@pytest.mark.parametrize("text", ["/health", "~/health", "health/", "health"])
def test_leading_and_trailing_slashes_are_ignored(text: str) -> None:
    assert RouteTemplate(text).match("/health") == {}


def test_doubled_braces_are_literal_braces() -> None:
    template = RouteTemplate("raw/{{id}}")
    assert template.segments[1].literal == "{id}"
    assert template.match("/raw/%7Bid%7D") == {}
    assert template.match("/raw/7") is None


def test_empty_template_matches_only_the_root() -> None:
    assert RouteTemplate("").match("/") == {}
    assert RouteTemplate("").match("/x") is None


def test_double_star_is_a_catch_all() -> None:
    assert RouteTemplate("files/{**path}").match("/files/a/b") == {"path": "a/b"}


# --- matching ------------------------------------------------------------------------------------


def test_literals_match_case_insensitively() -> None:
    assert RouteTemplate("api/Health").match("/API/health") == {}


def test_literal_mismatch_extra_and_missing_segments_do_not_match() -> None:
    template = RouteTemplate("api/patients/{patient_id}")
    assert template.match("/api/caregivers/1") is None
    assert template.match("/api/patients/1/extra") is None
    assert template.match("/api/patients") is None


def test_parameter_values_are_url_decoded_after_splitting() -> None:
    template = RouteTemplate("api/search/{term}")
    assert template.match("/api/search/%ED%99%8D%20gil") == {"term": "홍 gil"}
    # An encoded slash stays inside its segment rather than splitting the path.
    assert template.match("/api/search/a%2Fb") == {"term": "a/b"}
    # '+' is literal in a path (only a query string turns it into a space).
    assert template.match("/api/search/a+b") == {"term": "a+b"}


def test_parameters_do_not_match_empty_segments() -> None:
    assert RouteTemplate("a/{x}/b").match("/a//b") is None


def test_trailing_slash_in_the_path_is_ignored() -> None:
    assert RouteTemplate("api/patients/{patient_id}").match("/api/patients/7/") == {
        "patient_id": "7"
    }


def test_split_path_decodes_each_segment() -> None:
    assert split_path("/a/b%2Fc/%EB%8A%98/") == ["a", "b/c", "늘"]
    assert split_path("/") == []


@pytest.mark.parametrize(
    ("constraint", "accepted", "refused"),
    [
        ("int", ["0", "-12", "+7", "2147483647"], ["1.5", "abc", "2147483648", "0x10", ""]),
        ("long", ["2147483648", "-9223372036854775808"], ["9223372036854775808", "1e3"]),
        ("bool", ["true", "False", "TRUE"], ["1", "yes", "truthy"]),
        ("alpha", ["abc", "ABCdef"], ["abc1", "한글", "a-b"]),
        (
            "guid",
            [
                "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
                "3F2504E04F8911D39A0C0305E82C3301",
                "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}",
                "(3f2504e0-4f89-11d3-9a0c-0305e82c3301)",
            ],
            ["3f2504e0-4f89-11d3-9a0c", "zz2504e0-4f89-11d3-9a0c-0305e82c3301", "42"],
        ),
        (
            "datetime",
            ["2024-05-01", "2024-05-01T09:30:00", "2024-05-01T09:30:00+09:00"],
            ["2024-13-01", "tomorrow", "12"],
        ),
        ("decimal", ["1", "-1.50", "1,000.25", ".5"], ["1e3", "abc", "1.2.3", "NaN"]),
        ("double", ["1", "-1.5e10", "NaN", "Infinity", ".5"], ["abc", "1e", "--1"]),
        ("float", ["3.25", "-Infinity", "1E-3"], ["x1", "1.2.3"]),
        ("minlength(3)", ["abc", "abcd"], ["ab"]),
        ("maxlength(3)", ["a", "abc"], ["abcd"]),
        ("length(3)", ["abc"], ["ab", "abcd"]),
        ("length(2,3)", ["ab", "abc"], ["a", "abcd"]),
        ("min(10)", ["10", "99999999999"], ["9", "-10", "ten"]),
        ("max(10)", ["10", "-5"], ["11", "ten"]),
        ("range(1,5)", ["1", "5"], ["0", "6", "3.5"]),
        ("INT", ["42"], ["forty-two"]),  # constraint names are case-insensitive
    ],
)
def test_constraints(constraint: str, accepted: list[str], refused: list[str]) -> None:
    template = RouteTemplate(f"v/{{value:{constraint}}}")
    for value in accepted:
        assert template.match(f"/v/{value}") == {"value": value}, value
    for value in refused:
        assert template.match(f"/v/{value}") is None, value


def test_chained_constraints_must_all_pass() -> None:
    template = RouteTemplate("api/patients/{patient_id:int:min(1)}")
    assert template.match("/api/patients/1") == {"patient_id": "1"}
    assert template.match("/api/patients/0") is None
    assert template.match("/api/patients/one") is None


def test_trailing_optional_parameters() -> None:
    template = RouteTemplate("api/schedules/{date?}/{page:int?}")
    assert template.match("/api/schedules") == {}
    assert template.match("/api/schedules/2024-05-01") == {"date": "2024-05-01"}
    assert template.match("/api/schedules/2024-05-01/2") == {"date": "2024-05-01", "page": "2"}
    assert template.match("/api/schedules/2024-05-01/two") is None


def test_catch_all_takes_the_rest_of_the_path() -> None:
    template = RouteTemplate("files/{*path}")
    assert template.match("/files/a/b%20c/d.txt") == {"path": "a/b c/d.txt"}
    assert template.match("/files/one") == {"path": "one"}
    # Zero segments match, and (as in the real host) leave no value.
    assert template.match("/files") == {}
    assert template.match("/other/a") is None


def test_catch_all_constraints_apply_to_the_joined_value() -> None:
    template = RouteTemplate("files/{*path:minlength(4)}")
    assert template.match("/files/ab/cd") == {"path": "ab/cd"}
    assert template.match("/files/a/b") is None  # "a/b" is 3 characters


def test_optional_parameter_followed_by_catch_all() -> None:
    template = RouteTemplate("docs/{section?}/{*rest}")
    assert template.match("/docs") == {}
    assert template.match("/docs/intro/a/b") == {"section": "intro", "rest": "a/b"}


# --- precedence ----------------------------------------------------------------------------------

ROUTES = [
    "{*path}",
    "api/items/{*rest}",
    "api/items/{item_id?}",
    "api/items/{name}",
    "api/items/{item_id:int}",
    "api/items/special",
]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/items/special", "api/items/special"),
        ("/api/items/12", "api/items/{item_id:int}"),
        ("/api/items/abc", "api/items/{name}"),
        ("/api/items", "api/items/{item_id?}"),
        ("/api/items/a/b", "api/items/{*rest}"),
        ("/elsewhere/x", "{*path}"),
    ],
)
def test_most_specific_template_wins(path: str, expected: str) -> None:
    assert best(ROUTES, path) == expected


def test_precedence_order_follows_asp_net_core() -> None:
    ordered = sorted(
        (RouteTemplate(text) for text in reversed(ROUTES[1:])), key=lambda t: t.sort_key
    )
    assert [t.text for t in ordered] == [
        "api/items/special",
        "api/items/{item_id:int}",
        "api/items/{name}",
        "api/items/{item_id?}",
        "api/items/{*rest}",
    ]


def test_precedence_compares_segment_by_segment() -> None:
    # The first differing segment decides, whatever follows it.
    assert best(["{kind}/special", "api/{*rest}"], "/api/special") == "api/{*rest}"
    # A template that ends beats one that still has an optional segment to offer.
    assert best(["api/items/{item_id?}", "api/items"], "/api/items") == "api/items"
    # Constrained catch-all beats a plain one.
    assert best(["f/{*a}", "f/{*b:minlength(1)}"], "/f/x/y") == "f/{*b:minlength(1)}"


def test_constrained_parameter_refusing_falls_through_to_the_next_template() -> None:
    assert best(["api/items/{item_id:int}"], "/api/items/abc") is None
    assert best(["api/items/{item_id:int}", "{*path}"], "/api/items/abc") == "{*path}"


# --- malformed templates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("api//items", "empty segment"),
        ("files/{*path}/more", "catch-all parameter must be the last segment"),
        ("api/{id?}/items", "optional parameter may only be followed by optional"),
        ("api/{page=1}", "default values"),
        ("api/{id:nope}", "unknown constraint 'nope'"),
        ("api/{id:regex(^a$)}", "unknown constraint 'regex'"),
        ("api/{id:min(x)}", "needs integer arguments"),
        ("api/{id:min()}", "needs integer arguments"),
        ("api/{id:range(5,1)}", "minimum above its maximum"),
        ("api/{id:length(1,2,3)}", "takes 1 or 2 argument(s)"),
        ("api/{id:minlength(-1)}", "non-negative"),
        ("api/{id:int(3)}", "takes no arguments"),
        ("api/{id:int:}", "empty constraint"),
        ("api/{id:min(1}", "unbalanced parentheses"),
        ("api/{id}.{format}", "mixes text and parameters"),
        ("api/file-{id}", "complex segments are not supported"),
        ("api/{id", "unmatched brace"),
        ("api/{}", "invalid parameter name ''"),
        ("api/{a/b}", "unmatched brace"),
        ("api/{*rest?}", "cannot be optional"),
        ("api/{id}/{ID}", "appears more than once"),
        ("api/items?x=1", "may not contain '?'"),
        ("~api", "'~/'"),
    ],
)
def test_malformed_templates_raise_value_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="Invalid route template") as error:
        RouteTemplate(text)
    assert message in str(error.value)
    assert repr(text) in str(error.value)
