"""Conformance cases: YAML files under `cases/`, one case per file or a `cases:` list.

A case (keys):
  id            unique; every workflow, workbook and ad-hoc action name starts with it
                (default: the file's stem)
  description   what Mistral behaviour it pins down
  known_gap     one-line reason the engine does not do it yet (the test then xfails, strictly)
  known_gap_on  database kinds the gap applies to (default: all)
  environments  [{name, variables}]: POST /v2/environments (names start with the id too)
  actions       ad-hoc actions YAML (POST /v2/actions)
  workflows     workflows YAML (POST /v2/workflows)
  workbook      workbook YAML (POST /v2/workbooks)
  run           {workflow, input, params}: POST /v2/executions
  steps         list of operations after the start (see runner.STEP_KINDS)
  expect        what the execution must end as (see runner.check_expect)

Texts may hold `@HTTP@` (the loopback HTTP server's base URL) and `@RUN@` (a token unique
to this run of the case); both are replaced everywhere before use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CASES_DIR = Path(__file__).parent / "cases"
CASE_KEYS = {"id", "description", "known_gap", "known_gap_on", "environments", "actions",
             "workflows", "workbook", "run", "steps", "expect"}
DEFINITION_KEYS = {"version", "name", "description", "tags", "actions", "workflows"}


@dataclass
class Case:
    id: str
    file: Path
    data: dict[str, Any] = field(repr=False)

    def gap_for(self, kind: str) -> str | None:
        gap = self.data.get("known_gap")
        if not gap:
            return None
        only = self.data.get("known_gap_on")
        if only and kind not in only:
            return None
        return str(gap)


def _check(case: Case) -> None:
    unknown = set(case.data) - CASE_KEYS
    if unknown:
        raise ValueError(f"{case.file.name}: case {case.id}: unknown keys {sorted(unknown)}")
    if not any(k in case.data for k in ("workflows", "workbook")):
        raise ValueError(f"{case.file.name}: case {case.id}: no workflows or workbook")
    if "run" not in case.data or "workflow" not in case.data["run"]:
        raise ValueError(f"{case.file.name}: case {case.id}: run.workflow is required")
    if "expect" not in case.data:
        raise ValueError(f"{case.file.name}: case {case.id}: expect is required")


def load_cases(directory: Path = CASES_DIR) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(directory.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        entries = doc["cases"] if isinstance(doc, dict) and "cases" in doc else [doc]
        for entry in entries:
            case = Case(str(entry.get("id") or path.stem), path, entry)
            _check(case)
            cases.append(case)
    return cases


def defined_names(case: Case) -> list[str]:
    """Names the case defines on the shared server: workflows, workbook, actions."""
    names: list[str] = []
    for key in ("workflows", "actions"):
        if key in case.data:
            doc = yaml.safe_load(case.data[key])
            names += [k for k in doc if k not in DEFINITION_KEYS]
    if "workbook" in case.data:
        names.append(str(yaml.safe_load(case.data["workbook"])["name"]))
    names += [str(env["name"]) for env in case.data.get("environments") or []]
    return names
