"""One reader for a pack's YAML files: each refusal names the line and column, or why the
file could not be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from levante.platform.core.yaml_files import YamlFileError, load_yaml_text, read_yaml


def test_a_document(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("name: x\nitems: [1, 2]\n", encoding="utf-8")
    assert read_yaml(path) == {"name": "x", "items": [1, 2]}
    assert load_yaml_text("") is None


@pytest.mark.parametrize(("text", "words"), [
    ("name: x\n  runner_type: [\n", "is not valid YAML: line 2, column 14: "),
    ("a: [1\n", "is not valid YAML: line 2, column 1: "),
    ("a: b: c\n", "is not valid YAML: line 1, column 5: mapping values are not allowed"),
])
def test_a_syntax_error_names_its_line_and_column(text: str, words: str) -> None:
    with pytest.raises(YamlFileError) as info:
        load_yaml_text(text)
    assert str(info.value).startswith(words), str(info.value)


def test_a_file_that_cannot_be_read_says_why(tmp_path: Path) -> None:
    with pytest.raises(YamlFileError, match="cannot be read: No such file or directory"):
        read_yaml(tmp_path / "missing.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: café\n".encode("latin-1"))
    with pytest.raises(YamlFileError, match="cannot be read: 'utf-8' codec"):
        read_yaml(latin)
