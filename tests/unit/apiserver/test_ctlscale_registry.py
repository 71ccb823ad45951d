"""The registry reads request bodies without nulls as prune_nulls does, cheaper.

``_without_nulls`` gives the same copy as :func:`prune_nulls` for what JSON decodes to
(null mapping values dropped at every depth) and leaves its input untouched; a
manifest's line-tracking dicts go to prune_nulls itself. A null list item sends the
body to the slow path, which gives it its type's zero value.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from podnet.apiserver.registry import _body, _NullItem, _without_nulls
from podnet.apiserver.resources import Resource, by_kind
from podnet.manifests.lines import LineDict, prune_nulls


def _pod() -> Resource:
    res = by_kind("", "Pod")
    assert res is not None
    return res


POD = _pod()

DOC: dict[str, Any] = {
    "metadata": {"name": "a", "labels": None, "annotations": {"x": None, "y": "1"}},
    "spec": {
        "containers": [
            {"name": "c", "image": "nginx", "args": None, "ports": [{"containerPort": 80}]},
        ],
        "nodeName": None,
        "replicas": 0,
        "flag": False,
        "empty": {},
        "list": [],
    },
    "status": None,
}


def test_same_copy_as_prune_nulls_and_input_untouched() -> None:
    before = copy.deepcopy(DOC)
    out = _without_nulls(DOC)
    assert out == prune_nulls(DOC)
    assert before == DOC
    assert "labels" not in out["metadata"] and out["metadata"]["annotations"] == {"y": "1"}
    assert out["spec"]["replicas"] == 0 and out["spec"]["flag"] is False
    out["spec"]["containers"][0]["name"] = "changed"  # a copy all the way down
    assert DOC["spec"]["containers"][0]["name"] == "c"


def test_a_null_list_item_takes_the_slow_path() -> None:
    doc = copy.deepcopy(DOC)
    doc["spec"]["containers"].append(None)
    doc["spec"]["containers"][0]["command"] = ["sh", None]
    with pytest.raises(_NullItem):
        _without_nulls(doc)
    out = _body(POD, doc)
    assert out["spec"]["containers"][1] == {}  # a Container's zero value
    assert out["spec"]["containers"][0]["command"] == ["sh", ""]
    assert "labels" not in out["metadata"] and out["metadata"]["annotations"] == {"y": "1"}
    assert doc["spec"]["containers"][1] is None  # the input untouched


def test_body_of_a_status_write_and_a_line_dict() -> None:
    body = _body(
        POD, {**DOC, "status": {"phase": "Running", "podIP": None}}, ("metadata", "status")
    )
    assert set(body) == {"metadata", "status"} and body["status"] == {"phase": "Running"}
    lined = LineDict(3)
    lined["metadata"] = {"name": "a", "x": None}
    out = _without_nulls({"inner": lined})
    assert isinstance(out["inner"], LineDict) and out["inner"].line == 3
    assert out["inner"]["metadata"] == {"name": "a"}
    assert _body(POD, {"metadata": None})["metadata"] == {}
