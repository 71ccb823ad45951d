"""YAML text -> documents that remember their lines.

We compose node trees with libyaml's C loader (``yaml.CSafeLoader``, the pure-Python
loader when libyaml is missing) and convert nodes ourselves, so every mapping key and
sequence item keeps its line (:mod:`podnet.manifests.lines`). JSON is YAML, so ``.json``
files go through the same path.

Where PyYAML and the API server's YAML decoder (sigs.k8s.io/yaml: YAML -> JSON) differ
we follow the server: timestamps stay strings, mapping keys are strings, and a
duplicated key is an error (go-yaml: ``mapping key "x" already defined``).

Aliases are where a few lines become gigabytes ("billion laughs"): the composed graph
shares one node per anchor, and converting it copies the node at every use. We count
nodes as go-yaml's decoder does (yaml.v2/v3 ``decode.go``: ``allowedAliasRatio``, the
check behind "document contains excessive aliasing") and refuse with the line of the
alias's use once alias copies pass that ratio, so the cost is bounded by the file size.
Merge keys (``<<``) are resolved here too, keys deduplicated, for the same reason:
PyYAML's ``flatten_mapping`` repeats merged pairs and grows tenfold per level.
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
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAX_DEPTH = 200  # recursive anchors would otherwise never end

# A file holds at most this many documents (kubectl has no limit; 100,000 is twenty
# times the largest input bench/ loads).
MAX_DOCUMENTS = 100_000

# go-yaml decode.go: up to 400,000 decoded nodes, 99 % may come from aliases; from
# 4,000,000 on, 10 %; linear in between. Checked once 100 alias nodes and 1,000 nodes in all.
_ALIAS_RATIO_LOW = 400_000
_ALIAS_RATIO_HIGH = 4_000_000

Document = tuple[Any, Location]


def allowed_alias_ratio(decoded: int) -> float:
    """go-yaml's ``allowedAliasRatio``: the share of nodes aliases may produce."""
    if decoded <= _ALIAS_RATIO_LOW:
        return 0.99
    if decoded >= _ALIAS_RATIO_HIGH:
        return 0.10
    span = _ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW
    return 0.99 - 0.89 * (decoded - _ALIAS_RATIO_LOW) / span


def parse_documents(
    text: str, filename: str, max_documents: int = MAX_DOCUMENTS, already: int = 0
) -> list[Document]:
    """Every non-empty document in ``text`` with the line where it starts.

    Raises :class:`ManifestError` with ``file:line`` for syntax errors, excessive
    aliasing and more than ``max_documents`` documents (``already`` read before this text).
    """
    docs: list[Document] = []
    convert = _Converter(filename)
    try:
        for node in yaml.compose_all(text, Loader=Loader):
            if node is None:
                continue
            value = convert.document(node)
            if value is None:
                continue
            line = node.start_mark.line + 1
            if already + len(docs) >= max_documents:
                raise ManifestError(
                    f"too many documents: more than {max_documents:,} "
                    "(podnet reads at most MAX_DOCUMENTS documents per command)",
                    location=Location(filename, line),
                )
            docs.append((value, Location(filename, line)))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = e.problem or e.context or "invalid YAML"
        raise ManifestError(
            f"YAML syntax error: {problem}", location=Location(filename, line)
        ) from None
    except yaml.reader.ReaderError as e:
        raise ManifestError(
            f"YAML error: {e.reason}: character {_character(e)}",
            location=Location(filename, _reader_line(text, e.position)),
        ) from None
    except yaml.YAMLError as e:
        raise ManifestError(f"YAML error: {e}", location=Location(filename, 1)) from None
    return docs


def _character(e: yaml.reader.ReaderError) -> str:
    char = e.character
    code = char if isinstance(char, int) else ord(char) if len(char) == 1 else None
    return f"#x{code:04x}" if code is not None else repr(char)


def _reader_line(text: str, position: int) -> int:
    """The line of a reader error: libyaml counts UTF-8 bytes, PyYAML characters."""
    if Loader is not yaml.SafeLoader:
        return text.encode("utf-8", "surrogatepass")[:position].count(b"\n") + 1
    return text.count("\n", 0, position) + 1


class _Converter:
    """Nodes -> LineDict/LineList/scalars, counting nodes as go-yaml does.

    A collection node met a second time in a file is an alias: it and everything
    converted below it count as alias nodes. ``use_line`` is where the alias is used
    (the anchor's node only knows the anchor's line).
    """

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.decoded = 0
        self.aliased = 0
        self.in_alias = False
        self.seen: set[int] = set()

    def document(self, node: yaml.Node) -> Any:
        self.seen = set()  # node ids are unique only while their document lives
        return self.convert(node, 0, node.start_mark.line + 1)

    def convert(self, node: yaml.Node, depth: int, use_line: int) -> Any:
        self.decoded += 1
        if self.in_alias:
            self.aliased += 1
            self._check_aliases(use_line)
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node, self.filename)
        if id(node) in self.seen and not self.in_alias:
            self.in_alias = True
            try:
                return self.convert(node, depth, use_line)
            finally:
                self.in_alias = False
        self.seen.add(id(node))
        line = node.start_mark.line + 1
        if depth > _MAX_DEPTH:
            raise ManifestError("YAML nesting too deep", location=Location(self.filename, line))
        if isinstance(node, yaml.MappingNode):
            out = LineDict(line)
            for key_node, value_node in self.pairs(node, depth, use_line):
                key = _key(key_node, self.filename)
                key_line = key_node.start_mark.line + 1
                if key in out:
                    raise ManifestError(
                        f'mapping key "{key}" already defined at line {out.key_lines[key]}',
                        location=Location(self.filename, key_line),
                    )
                out[key] = self.convert(
                    value_node, depth + 1, use_line if self.in_alias else key_line
                )
                out.key_lines[key] = key_line
            return out
        if isinstance(node, yaml.SequenceNode):
            seq = LineList(line)
            for item in node.value:
                item_line = item.start_mark.line + 1
                seq.append(self.convert(item, depth + 1, use_line if self.in_alias else line))
                seq.item_lines.append(item_line)
            return seq
        return _scalar(node, self.filename)

    def pairs(self, node: yaml.MappingNode, depth: int, use_line: int) -> list[Any]:
        """The mapping's pairs with ``<<`` merges resolved (YAML 1.1 merge key type).

        Own keys come first and win; of the merged mappings the first one naming a key
        wins. Merged keys already present are dropped, so nothing repeats.
        """
        if not any(k.tag == _MERGE_TAG for k, _ in node.value):
            return list(node.value)
        own = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
        have = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
        merged: list[Any] = []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                continue
            sources = (
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            )
            if depth > _MAX_DEPTH:  # a mapping merging itself
                raise ManifestError(
                    "YAML nesting too deep",
                    location=Location(self.filename, key_node.start_mark.line + 1),
                )
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise ManifestError(
                        "a merge key (<<) takes a mapping or a list of mappings",
                        location=Location(self.filename, key_node.start_mark.line + 1),
                    )
                for k, v in self.pairs(source, depth + 1, key_node.start_mark.line + 1):
                    self.decoded += 1
                    self.aliased += 1  # a merged pair is a copy, as an alias is
                    self._check_aliases(key_node.start_mark.line + 1)
                    if isinstance(k, yaml.ScalarNode) and k.value not in have:
                        have.add(k.value)
                        merged.append((k, v))
        return merged + own

    def _check_aliases(self, line: int) -> None:
        if (
            self.aliased > 100
            and self.decoded > 1000
            and self.aliased / self.decoded > allowed_alias_ratio(self.decoded)
        ):
            raise ManifestError(
                f"YAML aliases expand too far: {self.aliased:,} of {self.decoded:,} nodes "
                "come from aliases or merge keys (go-yaml's limit: 'document contains "
                "excessive aliasing')",
                location=Location(self.filename, line),
            )


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
