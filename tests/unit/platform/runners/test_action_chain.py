"""Chain files: what the action-chain runner accepts, and the errors naming what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from levante.platform.runners.action_chain import ChainError, child_context, parse_chain


def test_default_is_the_first_node_and_params_may_be_called_parameters() -> None:
    chain = parse_chain({"chain": [{"name": "a", "ref": "core.noop", "on-success": "b"},
                                   {"name": "b", "ref": "core.local",
                                    "parameters": {"cmd": "true"}}],
                         "vars": {"x": 1}}, "c.yaml")
    assert chain.default == "a" and chain.vars == {"x": 1}
    assert chain.nodes["a"].on_success == "b" and chain.nodes["b"].params == {"cmd": "true"}


@pytest.mark.parametrize(("data", "words"), [
    ({}, "'chain' must be a non-empty list"),
    ({"chain": [{"ref": "core.noop"}]}, "chain[0]: 'name' is required"),
    ({"chain": [{"name": "a"}]}, "chain[0] (a): 'ref' is required"),
    ({"chain": [{"name": "a", "ref": "x.y", "on-failure": "zz"}]},
     "node 'a' links to 'zz', which is not a node"),
    ({"chain": [{"name": "a", "ref": "x.y"}], "default": "b"}, "'default' names 'b'"),
    ({"chain": [{"name": "a", "ref": "x.y"}, {"name": "a", "ref": "x.y"}]}, "used twice"),
    ({"chain": [{"name": "a", "ref": "x.y", "params": [1]}]}, "'params' must be an object"),
])
def test_bad_chains_are_refused_naming_the_problem(data: Any, words: str) -> None:
    with pytest.raises(ChainError) as caught:
        parse_chain(data, "c.yaml")
    assert str(caught.value).startswith("c.yaml") and words in str(caught.value)


def test_a_node_notify_goes_to_its_child_unless_skipped() -> None:
    chain = parse_chain({"chain": [
        {"name": "a", "ref": "core.noop", "notify": {"on-complete": {"routes": ["r"]}}},
        {"name": "b", "ref": "core.noop"}]}, "c.yaml")
    told, plain = chain.nodes["a"], chain.nodes["b"]
    assert child_context(told, None) == {"chain": {"name": "a"},
                                          "notify": {"on-complete": {"routes": ["r"]}}}
    assert child_context(told, ["a"]) == {"chain": {"name": "a"}}
    assert child_context(plain, []) == {"chain": {"name": "b"}}
    with pytest.raises(ChainError, match="'notify' must be a mapping"):
        parse_chain({"chain": [{"name": "a", "ref": "core.noop", "notify": [1]}]}, "c.yaml")
