"""Content reading and writing the datastore on a full system (engine and platform as
processes, wired by HTTP): `st2kv()` in a workflow's YAQL and Jinja (the engine asks the
platform), `{{ st2kv.system.x }}` / `{{ st2kv.user.x }}` / `decrypt_kv` in parameters and
an action-chain, `self.action_service` in a Python action; a missing key names itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from levante.platform.datastore import crypto
from tests.acceptance.handshake_launch.conftest import System, running_system

PASSWORD = "p4ss-w0rd"

KV_PACK = {
    "pack.yaml": "ref: kvpack\nname: kvpack\ndescription: datastore tests\nversion: 1.0.0\n"
                 "author: tests\n",
    "actions/wf.yaml": "---\nname: wf\nrunner_type: mistral-v2\n"
                       "entry_point: workflows/wf.yaml\n",
    "actions/workflows/wf.yaml": """---
version: '2.0'
kvpack.wf:
  output:
    plain: <% $.plain %>
    jinja: "{{ _.jinja }}"
    secret_ok: <% $.secret_ok %>
    hidden: <% $.hidden %>
    mine: <% $.mine %>
    echoed: <% $.echoed %>
  tasks:
    read:
      action: core.noop
      publish:
        plain: <% st2kv('system.colour') %>
        jinja: "{{ st2kv('system.colour') }}"
        secret_ok: <% st2kv('system.password', decrypt => true) = '""" + PASSWORD + """' %>
        hidden: <% st2kv('system.password') != '""" + PASSWORD + """' %>
        mine: <% st2kv('user.mine') %>
      on-success: [show]
    show:
      action: core.local
      input:
        cmd: echo <% st2kv('system.colour') %>
      publish:
        echoed: <% task().result.stdout %>
""",
    "actions/missing.yaml": "---\nname: missing\nrunner_type: mistral-v2\n"
                            "entry_point: workflows/missing.yaml\n",
    "actions/workflows/missing.yaml": """---
version: '2.0'
kvpack.missing:
  tasks:
    read:
      action: core.noop
      publish:
        nope: <% st2kv('system.no_such_key') %>
""",
    "actions/echo.yaml": """---
name: echo
runner_type: local-shell-cmd
parameters:
  cmd:
    type: string
    default: "echo {{ st2kv.system.colour }}-{{ st2kv.user.mine }}-{{ system.colour }}"
""",
    "actions/chain.yaml": "---\nname: chain\nrunner_type: action-chain\n"
                          "entry_point: chains/chain.yaml\n",
    "actions/chains/chain.yaml": """---
vars:
  size: "{{ st2kv.system.password | decrypt_kv | length }}"
chain:
  - name: first
    ref: core.local
    params:
      cmd: "echo {{ st2kv.system.colour }} {{ size }}"
""",
    "actions/py.yaml": "---\nname: py\nrunner_type: python-script\nentry_point: py.py\n",
    "actions/py.py": """
from st2common.runners.base_action import Action


class Kv(Action):
    def run(self):
        service = self.action_service
        service.set_value("counter", "1")
        service.set_value("hidden", "h1dden", encrypt=True)
        service.set_value("global", "g", local=False, ttl=600)
        result = {
            "counter": service.get_value("counter"),
            "hidden": service.get_value("hidden", decrypt=True),
            "hidden_raw_differs": service.get_value("hidden") != "h1dden",
            "colour": service.get_value("colour", local=False),
            "names": sorted(k.name for k in service.list_values()),
            "deleted": service.delete_value("counter"),
            "again": service.get_value("counter"),
        }
        return result
""",
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                                marks=pytest.mark.postgres)])
def kv_system(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[System]:
    for found in running_system(request.param, tmp_path_factory,
                                packs={"kvpack": KV_PACK}):
        crypto.write_key(found.tmp / "pdata" / crypto.KEY_FILE_NAME)
        with found.client() as client:
            for name, body in (("colour", {"value": "blue"}),
                               ("password", {"value": PASSWORD, "secret": True}),
                               ("mine", {"value": "own", "scope": "user"})):
                answer = client.put(f"/keys/{name}", json=body)
                assert answer.status_code == 200, answer.text
        yield found


def test_workflow_reads_keys_through_the_platform(kv_system: System) -> None:
    done = kv_system.wait(kv_system.run("kvpack.wf")["id"], timeout=60)
    assert done["status"] == "succeeded", done["result"]
    output = done["result"]
    assert output["plain"] == output["jinja"] == "blue"
    assert output["secret_ok"] is True and output["hidden"] is True
    assert output["mine"] == "own" and output["echoed"].strip() == "blue"
    assert PASSWORD not in str(done)


def test_missing_key_fails_naming_it(kv_system: System) -> None:
    done = kv_system.wait(kv_system.run("kvpack.missing")["id"], timeout=60)
    assert done["status"] == "failed"
    assert 'The key "system.no_such_key" does not exist' in str(done["result"])


def test_parameters_and_chain_read_keys(kv_system: System) -> None:
    done = kv_system.wait(kv_system.run("kvpack.echo")["id"], timeout=60)
    assert done["status"] == "succeeded", done["result"]
    assert done["result"]["stdout"].strip() == "blue-own-blue"
    chain = kv_system.wait(kv_system.run("kvpack.chain")["id"], timeout=60)
    assert chain["status"] == "succeeded", chain
    assert chain["result"]["tasks"][0]["result"]["stdout"].strip() == f"blue {len(PASSWORD)}"
    with kv_system.client() as client:
        refused = client.post("/executions", json={
            "action": "core.local", "parameters": {"cmd": "echo {{ st2kv.system.nokey }}"}})
    assert refused.status_code == 400
    assert 'Key "nokey" does not exist in the datastore' in refused.json()["faultstring"]


def test_python_action_uses_the_action_service(kv_system: System) -> None:
    done = kv_system.wait(kv_system.run("kvpack.py")["id"], timeout=60)
    assert done["status"] == "succeeded", done["result"]
    result = done["result"]["result"]
    assert result == {
        "counter": "1", "hidden": "h1dden", "hidden_raw_differs": True, "colour": "blue",
        "names": ["kvpack.Kv:counter", "kvpack.Kv:hidden"], "deleted": True, "again": None,
    }
    assert "h1dden" not in str(done["parameters"])
    with kv_system.client() as client:
        doc = client.get("/keys/global").json()
    assert doc["value"] == "g" and doc["expire_timestamp"]
