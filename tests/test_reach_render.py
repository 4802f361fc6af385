"""Message templates: the direct rendering of text-and-``{{ name }}`` templates gives exactly what Jinja gives.

Jinja itself (the sandboxed environment's compiled template) is the model: for any template built from text,
variables, whitespace control, raw blocks, comments, filters and other expressions, ``document.render`` must
return the same string, or fail where Jinja fails."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.hub.messaging import document

NAMES = list(document.VARIABLES)
TEXT = st.lists(st.sampled_from(list("ab {}%#-\r\n\t.é€") + ["{{", "}}", "{%", "%}", "{#", "#}"]), max_size=12).map("".join)
PIECE = st.one_of(
    TEXT,
    st.sampled_from(NAMES).map(lambda n: f"{{{{ {n} }}}}"),
    st.sampled_from(NAMES).map(lambda n: f"{{{{{n}}}}}"),
    st.sampled_from(NAMES).map(lambda n: f"{{{{- {n} -}}}}"),
    st.sampled_from(NAMES).map(lambda n: f"{{{{ {n}|upper }}}}"),
    st.just("{{ nobody }}"),
    st.just("{{ 'x' }}"),
    st.just("{% raw %}{{ code }}{% endraw %}"),
    st.just("{# a note #}"),
    st.just("{% if code %}C{% endif %}"),
)
VALUES = st.fixed_dictionaries({n: st.one_of(st.text(max_size=8), st.integers(), st.none()) for n in NAMES})


def jinja(text: str, variables: dict) -> tuple[str, str]:
    try:
        return "ok", document.ENV.from_string(text).render(variables) if text else ""
    except Exception as exc:  # noqa: BLE001 - the model's failure is compared by kind
        return "error", type(exc).__name__


def ours(text: str, variables: dict) -> tuple[str, str]:
    try:
        return "ok", document.render(text, variables)
    except Exception as exc:  # noqa: BLE001
        return "error", type(exc).__name__


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECE, max_size=8).map("".join), VALUES)
def test_render_is_what_jinja_renders(text, variables):
    assert ours(text, variables) == jinja(text, variables)


@settings(max_examples=100, deadline=None)
@given(st.lists(PIECE, max_size=6).map("".join), VALUES, st.sampled_from(NAMES))
def test_a_missing_variable_fails_as_in_jinja(text, variables, gone):
    del variables[gone]
    assert ours(text, variables) == jinja(text, variables)


@pytest.mark.parametrize("text", ["Hi {{ first_name }}, your code is {{ code }}.\n", "{{code}}\r\n{{- window }}x",
                                  "Hello {{ first_name }}", "only text\n\n"])
def test_plain_templates_take_the_direct_way(text):
    assert document._pieces(text) is not None  # what the benchmark's messages are: no Jinja context per message
    variables = {n: f"<{n}>" for n in NAMES}
    assert document.render(text, variables) == document.ENV.from_string(text).render(variables)
