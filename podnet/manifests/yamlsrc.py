"""YAML text -> documents that remember their lines.

We compose node trees with libyaml's C loader (``yaml.CSafeLoader``, the pure-Python
loader when libyaml is missing) and convert nodes ourselves, so every mapping key and
sequence item keeps its line (:mod:`podnet.manifests.lines`). JSON is YAML, so ``.json``
files go through the same path.

Where PyYAML and the API server's YAML decoder (sigs.k8s.io/yaml: YAML -> JSON) differ
we follow the server: timestamps stay strings, mapping keys are strings, and a
duplicated key is an error (go-yaml: ``mapping key "x" already defined``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from podnet.errors import Location, ManifestError
from podnet.manifests.lines import LineDict, LineList

Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_constructor = SafeConstructor()
_STRING_TAGS = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:str", "tag:yaml.org,2002:value"}
_MAX_DEPTH = 200  # recursive anchors would otherwise never end

Document = tuple[Any, Location]


def parse_documents(text: str, filename: str) -> list[Document]:
    """Every non-empty document in ``text`` with the line where it starts.

    Raises :class:`ManifestError` with ``file:line`` for syntax errors.
    """
    docs: list[Document] = []
    try:
        for node in yaml.compose_all(text, Loader=Loader):
            if node is None:
                continue
            value = _convert(node, filename, 0)
            if value is None:
                continue
            docs.append((value, Location(filename, node.start_mark.line + 1)))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = e.problem or e.context or "invalid YAML"
        raise ManifestError(
            f"YAML syntax error: {problem}", location=Location(filename, line)
        ) from None
    except yaml.YAMLError as e:
        raise ManifestError(f"YAML error: {e}", location=Location(filename, 1)) from None
    return docs


def _convert(node: yaml.Node, filename: str, depth: int) -> Any:
    line = node.start_mark.line + 1
    if depth > _MAX_DEPTH:
        raise ManifestError("YAML nesting too deep", location=Location(filename, line))
    if isinstance(node, yaml.MappingNode):
        _constructor.flatten_mapping(node)  # resolves "<<" merge keys
        out = LineDict(line)
        for key_node, value_node in node.value:
            key = _key(key_node, filename)
            if key in out:
                raise ManifestError(
                    f'mapping key "{key}" already defined at line {out.key_lines[key]}',
                    location=Location(filename, key_node.start_mark.line + 1),
                )
            out[key] = _convert(value_node, filename, depth + 1)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = LineList(line)
        for item in node.value:
            seq.append(_convert(item, filename, depth + 1))
            seq.item_lines.append(item.start_mark.line + 1)
        return seq
    return _scalar(node, filename)


def _key(node: yaml.Node, filename: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise ManifestError(
            "mapping keys must be scalars",
            location=Location(filename, node.start_mark.line + 1),
        )
    value = _scalar(node, filename)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _scalar(node: yaml.Node, filename: str) -> Any:
    if node.tag in _STRING_TAGS or not isinstance(node, yaml.ScalarNode):
        return str(node.value)
    build: Callable[[SafeConstructor, yaml.Node], Any] | None = (
        SafeConstructor.yaml_constructors.get(node.tag)
    )
    if build is None:  # custom tags (!foo): the API server would see the plain text
        return str(node.value)
    try:
        return build(_constructor, node)
    except (yaml.YAMLError, ValueError) as e:
        raise ManifestError(
            f"invalid scalar {node.value!r}: {e}",
            location=Location(filename, node.start_mark.line + 1),
        ) from None
