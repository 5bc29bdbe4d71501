"""Loading packs: valid actions kept, each invalid file reported with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from levante.platform.core.packs import (
    BUNDLED_PACKS_DIR,
    PackLoadFailed,
    discover_packs,
    load_pack,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def make_pack(root: Path, name: str = "demo", version: str = "1.2.0") -> Path:
    pack = root / name
    write(pack / "pack.yaml", f"name: {name}\nversion: {version}\ndescription: d\nauthor: me\n")
    return pack


GOOD = """
name: hello
description: says hello
runner_type: local-shell-script
entry_point: hello.sh
parameters:
  who: {type: string, required: true, position: 0}
  loud: {type: boolean, default: false}
tags: [demo]
"""


def test_good_pack_loads_metadata_and_actions(tmp_path: Path) -> None:
    pack = make_pack(tmp_path)
    write(pack / "actions" / "hello.yaml", GOOD)
    write(pack / "actions" / "hello.sh", "#!/bin/sh\necho hi\n")
    write(pack / "actions" / "cmd.yml", "name: cmd\nrunner_type: local-shell-cmd\n")
    meta, actions, errors = load_pack(pack)
    assert errors == []
    assert (meta.name, meta.version, meta.author) == ("demo", "1.2.0", "me")
    assert meta.path == pack.resolve()
    by_ref = {a.ref: a for a in actions}
    assert set(by_ref) == {"demo.hello", "demo.cmd"}
    hello = by_ref["demo.hello"]
    assert hello.pack == "demo" and hello.name == "hello"
    assert hello.entry_point == str((pack / "actions" / "hello.sh").resolve())
    assert hello.parameters["who"] == {"type": "string", "required": True, "position": 0}
    assert hello.enabled is True and hello.tags == ["demo"]
    assert hello.metadata_file.endswith("hello.yaml")
    assert by_ref["demo.cmd"].entry_point == ""


BAD_CASES = [
    ("broken.yaml", "name: x\n  runner_type: [\n", "is not valid YAML: line"),
    ("noname.yaml", "runner_type: noop\n", "'name' is missing"),
    ("norunner.yaml", "name: norunner\n", "'runner_type' is missing"),
    ("badrunner.yaml", "name: badrunner\nrunner_type: teleport\n",
     "unknown runner_type 'teleport'"),
    ("list.yaml", "- a\n- b\n", "must be a mapping"),
    ("badtype.yaml", "name: bt\nrunner_type: noop\nparameters:\n  p: {type: str}\n",
     "parameter 'p': invalid type 'str'"),
    ("badattr.yaml",
     "name: ba\nrunner_type: noop\nparameters:\n  p: {type: string, requird: true}\n",
     "unknown attribute(s) requird"),
    ("badenum.yaml", "name: be\nrunner_type: noop\nparameters:\n  p: {enum: a}\n",
     "'enum' must be a list"),
    ("badpos.yaml", "name: bp\nrunner_type: noop\nparameters:\n  p: {position: -1}\n",
     "'position' must be a non-negative integer"),
    ("dupos.yaml",
     "name: dp\nrunner_type: noop\nparameters:\n  a: {position: 0}\n  b: {position: 0}\n",
     "share the same 'position'"),
    ("noentry.yaml", "name: ne\nrunner_type: local-shell-script\nentry_point: missing.sh\n",
     "entry_point 'missing.sh' does not exist"),
    ("escape.yaml", "name: es\nrunner_type: local-shell-script\nentry_point: ../../../etc/passwd\n",
     "points outside the pack"),
    ("needentry.yaml", "name: nd\nrunner_type: python-script\n",
     "'entry_point' is required for runner_type 'python-script'"),
    ("wrongpack.yaml", "name: wp\npack: other\nrunner_type: noop\n", "'pack' is 'other'"),
    ("enabled.yaml", "name: en\nenabled: maybe\nrunner_type: noop\n", "'enabled' must be"),
    ("notifykind.yaml", "name: nk\nrunner_type: noop\nnotify:\n  on-end: {message: x}\n",
     "'notify' has an unknown key 'on-end'"),
    ("notifyroutes.yaml",
     "name: nr\nrunner_type: noop\nnotify:\n  on-success: {routes: slack}\n",
     "'notify.on-success.routes' must be a list"),
]


@pytest.mark.parametrize(("filename", "text", "reason"), BAD_CASES,
                         ids=[c[0] for c in BAD_CASES])
def test_invalid_action_reported_with_file_and_reason(
    tmp_path: Path, filename: str, text: str, reason: str
) -> None:
    pack = make_pack(tmp_path)
    write(pack / "actions" / "ok.yaml", "name: ok\nrunner_type: noop\n")
    bad = write(pack / "actions" / filename, text)
    _, actions, errors = load_pack(pack)
    assert [a.ref for a in actions] == ["demo.ok"]  # the valid action is kept
    assert len(errors) == 1
    assert errors[0].file == str(bad)
    assert reason in errors[0].reason, errors[0].reason
    assert str(bad) in str(errors[0])


def test_duplicate_action_name_is_an_error(tmp_path: Path) -> None:
    pack = make_pack(tmp_path)
    write(pack / "actions" / "a.yaml", "name: same\nrunner_type: noop\n")
    write(pack / "actions" / "b.yaml", "name: same\nrunner_type: noop\n")
    _, actions, errors = load_pack(pack)
    assert [a.ref for a in actions] == ["demo.same"]
    assert "already defined" in errors[0].reason and errors[0].file.endswith("b.yaml")


def test_pack_without_pack_yaml_fails(tmp_path: Path) -> None:
    (tmp_path / "nopack" / "actions").mkdir(parents=True)
    with pytest.raises(PackLoadFailed, match=r"pack\.yaml is missing"):
        load_pack(tmp_path / "nopack")


def test_pack_with_bad_pack_yaml_fails(tmp_path: Path) -> None:
    write(tmp_path / "p" / "pack.yaml", "name: [\n")
    with pytest.raises(PackLoadFailed) as info:
        load_pack(tmp_path / "p")
    assert info.value.file.endswith("pack.yaml") and "is not valid YAML: line" in info.value.reason


def test_discover_finds_bundled_and_later_path_overrides(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    make_pack(first, "mine")
    make_pack(second, "mine")
    make_pack(second, "core")  # overrides the bundled core
    (second / "not_a_pack").mkdir()
    found = discover_packs([str(first), str(second), str(tmp_path / "missing")])
    assert found["examples"] == (BUNDLED_PACKS_DIR / "examples").resolve()
    assert found["mine"] == (second / "mine").resolve()
    assert found["core"] == (second / "core").resolve()
    assert "not_a_pack" not in found


def test_discover_accepts_a_pack_folder_itself(tmp_path: Path) -> None:
    pack = make_pack(tmp_path, "solo")
    assert discover_packs([str(pack)])["solo"] == pack.resolve()
