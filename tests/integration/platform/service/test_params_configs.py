"""Pack configs refused at registration (file and reason), the configs API, and the edges
of rendered parameters, through the API (issue 11, points 4 and 5)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx

from tests.integration.platform.service.conftest import Served

SECRET = "hunter2-do-not-show"


def _pack(root: Path, name: str, files: dict[str, str]) -> None:
    files = {"pack.yaml": f"name: {name}\nversion: 0.1.0\n", **files}
    for file, text in files.items():
        path = root / name / file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def _register(client: httpx.Client, *names: str) -> dict[str, str]:
    answer = client.post("/packs/register", json={"packs": list(names)})
    assert answer.status_code == 200, answer.text
    assert SECRET not in answer.text
    return {Path(e["file"]).name: e["reason"] for e in answer.json()["errors"]}


def _fault(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["faultstring"])


def test_registration_refuses_bad_schemas_and_configs(served: Served, tmp_path: Path) -> None:
    packs = tmp_path / "packs"
    configs = served.config.configs_path
    configs.mkdir(parents=True, exist_ok=True)
    schemas = {
        "s_list": ("- a\n- b\n", "must be a mapping"),
        "s_yaml": ("a: [1\n", "not valid YAML: line"),
        "s_type": ("a: {type: strin}\n", "'a': type 'strin'"),
        "s_flag": ("a: {type: string, secret: 'yes'}\n", "'a': 'secret' must be true or false"),
        "s_default": ("a: {type: integer, default: x}\n", "'a': its default"),
        "s_nested": ("a: {type: object, properties: {b: {type: nope}}}\n", "'a.b': type"),
    }
    for name, (schema, _reason) in schemas.items():
        _pack(packs, name, {"config.schema.yaml": schema})
    values = {
        "c_type": ("n: {type: integer}\n", "n: ten\n", "'n': 'ten' is not of type integer"),
        "c_required": ("n: {type: integer, required: true}\n", "{}\n", "'n' is required"),
        "c_nested": ("o: {type: object, properties: {p: {type: boolean}}}\n", "o: {p: 3}\n",
                     "'o.p': 3 is not of type boolean"),
        "c_secret": ("t: {type: integer, secret: true}\n", f"t: {SECRET}\n",
                     "'t': (secret) is not of type integer"),
        "c_enum": ("e: {enum: [a, b]}\n", "e: c\n", "'e': 'c' is not one of"),
        "c_list": ("n: {type: integer}\n", "- 1\n", "must be a mapping"),
        "c_kv": ("k: {type: string}\n", "k: '{{ st2kv.system.k }}'\n",
                 "'k': refers to the datastore, which is not supported"),
    }
    for name, (schema, config, _reason) in values.items():
        _pack(packs, name, {"config.schema.yaml": schema})
        (configs / f"{name}.yaml").write_text(config, encoding="utf-8")
    with served.client() as client:
        errors = _register(client, *schemas, *values)
        assert len(errors) == 1 + len(values), errors  # one per schema file name, per config
        answer = client.post("/packs/register", json={"packs": [*schemas]}).json()
        reasons = {Path(e["file"]).parent.name: e["reason"] for e in answer["errors"]}
        for name, (_schema, reason) in schemas.items():
            assert reason in reasons[name], (name, reasons[name])
            assert client.get(f"/config_schemas/{name}").status_code == 404
        for name, (_schema, _config, reason) in values.items():
            assert reason in errors[f"{name}.yaml"], (name, errors[f"{name}.yaml"])
            assert client.get(f"/configs/{name}").status_code == 404

        # Fixed and registered again: served, with defaults filled and secrets masked.
        (configs / "c_secret.yaml").write_text("t: 42\n", encoding="utf-8")
        assert _register(client, "c_secret") == {}
        assert client.get("/configs/c_secret").json()["values"] == {"t": "********"}
        assert _fault(client.get("/configs/a..b")).startswith("The path's pack")
        assert "not supported" in _fault(client.put("/configs/c_secret", json={}), 405)


def test_rendered_parameters_through_the_api(served: Served, tmp_path: Path) -> None:
    _pack(tmp_path / "packs", "render", {
        "config.schema.yaml": f"token: {{type: string, secret: true, default: {SECRET}}}\n"
                              "limits: {type: object, default: {max: 7}}\n",
        "actions/all.yaml": """\
            name: all
            runner_type: noop
            parameters:
              base: {type: integer, default: 2}
              twice: {type: integer, default: "{{ base * 2 }}"}
              label: {type: string, default: "{{ twice }}"}
              nested:
                type: object
                default: {items: ["{{ base }}", "x{{ base }}"], who: "{{ action_context.user }}"}
              fixed: {type: string, immutable: true, default: "{{ action_context.pack }}"}
              limit: {type: integer, default: "{{ config_context.limits.max }}"}
              password: {type: string, secret: true, default: "{{ config_context.token }}"}
              upper: {type: string, default: "{{ label | upper }}-{{ base | string }}"}
            """,
        "actions/loose.yaml": """\
            name: loose
            runner_type: noop
            parameters:
              a: {type: string}
              b: {type: string}
            """,
    })
    with served.client() as client:
        assert _register(client, "render") == {}
        made = client.post("/executions", json={"action": "render.all",
                                                 "parameters": {"base": "5"}})
        assert made.status_code == 201, made.text
        assert SECRET not in made.text
        shown = client.get(f"/executions/{made.json()['id']}").json()["parameters"]
        assert shown["twice"] == 10 and shown["label"] == "10" and shown["limit"] == 7
        assert shown["nested"] == {"items": [5, "x5"], "who": "admin"}
        assert shown["fixed"] == "render" and shown["password"] == "********"
        assert shown["upper"] == "10-5"

        def refused(parameters: dict[str, str]) -> str:
            return _fault(client.post("/executions", json={"action": "render.loose",
                                                           "parameters": parameters}))

        assert "Parameter 'a' refers to itself" in refused({"a": "{{ a }}"})
        message = refused({"a": "{{ b }}", "b": "{{ a }}"})
        assert "'a', 'b'" in message and "cycle" in message
        assert "refers to parameter 'b', which has no value" in refused({"a": "{{ b }}"})
        assert refused({"a": "{{ b "}).startswith("Parameter 'a': cannot render")
        assert "undefined" in refused({"a": "{{ nothing.here }}"})
        assert 'Key "k" does not exist in the datastore' in refused({"b": "{{ st2kv.system.k }}"})
        for given in ("pa{{ss", "{{ " + SECRET + " }}", "{{ pa | nofilter }}"):
            message = _fault(client.post("/executions", json={
                "action": "render.all", "parameters": {"password": given}}))
            assert message == "Parameter 'password' (secret): its value cannot be rendered " \
                              "as a Jinja template", message
        assert "'fixed' is immutable" in _fault(client.post("/executions", json={
            "action": "render.all", "parameters": {"fixed": "other"}}))
