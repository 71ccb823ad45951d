"""Hostile YAML gets a bounded, clean answer with file:line (issue 14, "Input").

Aliases are counted as go-yaml counts them ("document contains excessive aliasing"), so
a "billion laughs" file is refused after a few thousand nodes, and control characters
are reported on the line they are on.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from podnet.errors import ManifestError
from podnet.manifests import load_paths
from podnet.manifests.yamlsrc import allowed_alias_ratio, parse_documents


def laughs(levels: int = 9, width: int = 9) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def merge_laughs(levels: int = 10) -> str:
    lines = ["l0: &l0 {k0: 1, k1: 2}"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} {{<<: [{', '.join([f'*l{i - 1}'] * 10)}]}}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text", [laughs(), merge_laughs()], ids=["aliases", "merge-keys"])
def test_billion_laughs_is_refused_quickly_with_its_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "lol.yaml"
    path.write_text(text)
    start = time.monotonic()
    with pytest.raises(ManifestError, match="aliases expand too far") as e:
        load_paths([str(path)])
    assert time.monotonic() - start < 5
    assert e.value.location is not None
    assert e.value.location.file == str(path)
    assert 2 <= e.value.location.line <= text.count("\n")


def test_moderate_aliasing_loads_as_before() -> None:
    text = "base: &b {a: 1, b: [1, 2, 3]}\n" + "".join(f"k{i}: *b\n" for i in range(50))
    [(doc, _)] = parse_documents(text, "f.yaml")
    assert doc["k49"] == {"a": 1, "b": [1, 2, 3]}
    assert doc["k49"] is not doc["k48"]  # copies, as before: checks may annotate them


def test_merge_keys_own_keys_win_and_first_merged_wins() -> None:
    text = "a: &a {x: 1, y: 2}\nb: &b {y: 3, z: 4}\nc:\n  <<: [*a, *b]\n  x: 9\n"
    [(doc, _)] = parse_documents(text, "f.yaml")
    assert doc["c"] == {"x": 9, "y": 2, "z": 4}
    assert doc["c"].key_lines["x"] == 5


def test_merge_of_a_scalar_is_a_clean_error() -> None:
    with pytest.raises(ManifestError, match="merge key") as e:
        parse_documents("a:\n  <<: 3\n", "f.yaml")
    assert e.value.location is not None and e.value.location.line == 2


@pytest.mark.parametrize("text", ["a: &a\n  <<: *a\n  x: 1\n", "a: &a [*a]\n", "a: &a {b: *a}\n"])
def test_recursive_anchors_end(text: str) -> None:
    with pytest.raises(ManifestError, match="YAML nesting too deep"):
        parse_documents(text, "f.yaml")


def test_alias_ratio_follows_go_yaml() -> None:
    assert allowed_alias_ratio(1000) == 0.99
    assert allowed_alias_ratio(4_000_000) == 0.10
    assert 0.10 < allowed_alias_ratio(2_200_000) < 0.99


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\nb: 2\nc: x\x00y\n", 3),
        ("a: é€é€\nb: 2\nc: x\x01y\n", 3),  # libyaml counts bytes, not characters
        ("a: 1\n\n\n\nb: \x07\n", 5),
    ],
)
def test_control_characters_are_reported_on_their_line(text: str, line: int) -> None:
    with pytest.raises(ManifestError, match="not allowed") as e:
        parse_documents(text, "f.yaml")
    assert e.value.location is not None and e.value.location.line == line


def test_too_many_documents_names_the_limit() -> None:
    text = "---\n".join("a: 1\n" for _ in range(6))
    assert len(parse_documents(text, "f.yaml", max_documents=6)) == 6
    with pytest.raises(ManifestError, match="more than 5 ") as e:
        parse_documents(text, "f.yaml", max_documents=5)
    assert e.value.location is not None and e.value.location.line == 11
