"""Workbooks and ad-hoc actions."""

from __future__ import annotations

from levante.engine.languages.mistral_v2 import (
    AdHocActionSpec,
    InputParam,
    parse_actions,
    parse_workbook,
)

WORKBOOK = """
version: '2.0'
name: my_wb
description: a workbook
tags: [ops]
actions:
  version: '2.0'
  greet:
    base: std.echo output="Hello <% $.name %>"
    input:
      - name
      - polite: true
    output: <% $.output %>
workflows:
  version: '2.0'
  main:
    tasks:
      t1:
        action: greet name=world
        on-success: t2
      t2:
        workflow: helper
      t3:
        action: std.echo output=1
      t4:
        workflow: other_wb.flow
  helper:
    type: reverse
    tasks:
      only: {}
"""


def test_workbook_members_are_qualified_and_local_names_resolved() -> None:
    wb = parse_workbook(WORKBOOK)
    assert wb.name == "my_wb"
    assert wb.description == "a workbook"
    assert wb.tags == ["ops"]
    assert list(wb.workflows) == ["my_wb.main", "my_wb.helper"]
    assert list(wb.actions) == ["my_wb.greet"]
    main = wb.workflows["my_wb.main"]
    assert main.name == "my_wb.main"
    assert main.tasks["t1"].action == "my_wb.greet"
    assert main.tasks["t1"].input == {"name": "world"}
    assert main.tasks["t2"].workflow == "my_wb.helper"
    assert main.tasks["t3"].action == "std.echo"
    assert main.tasks["t4"].workflow == "other_wb.flow"
    assert wb.workflows["my_wb.helper"].type == "reverse"
    greet = wb.actions["my_wb.greet"]
    assert greet == AdHocActionSpec(
        name="my_wb.greet",
        base="std.echo",
        base_input={"output": "Hello <% $.name %>"},
        input=[InputParam("name", None, True), InputParam("polite", True, False)],
        output="<% $.output %>",
        line=8,
    )
    assert greet.input_names() == ["name", "polite"]


def test_workbook_without_sections() -> None:
    wb = parse_workbook("version: '2.0'\nname: empty\n")
    assert (wb.workflows, wb.actions, wb.description) == ({}, {}, "")


def test_actions_file() -> None:
    actions = parse_actions("""
version: '2.0'
a1:
  description: first
  tags: [x]
  base: std.http url="http://x" method=GET
  base-input:
    headers: {h: <% $.h %>}
    method: POST
a2:
  base: a1
""")
    assert [a.name for a in actions] == ["a1", "a2"]
    a1 = actions[0]
    assert a1.base == "std.http"
    assert a1.base_input == {"url": "http://x", "method": "GET", "headers": {"h": "<% $.h %>"}}
    assert a1.description == "first" and a1.tags == ["x"]
    assert actions[1].base_input == {} and actions[1].input == []
