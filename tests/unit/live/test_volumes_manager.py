"""The kubelet's volume manager, the parts that need no cluster: the token cache
(pkg/kubelet/token/token_manager.go requiresRefresh) and the runtime's mount hook."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

import pytest

from podnet.live.node.volumes import VolumeManager
from podnet.model.objects import Pod

Obj = dict[str, Any]


def manager(tmp_path: Path) -> VolumeManager:
    return VolumeManager(cast(Any, None), tmp_path, cast(Any, None), lambda r, p: None, print)


def test_tokens_are_kept_until_80_percent_of_their_life(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vm = manager(tmp_path)
    assert vm.tokens is None  # no issuer: serviceAccountToken sources are left out
    asked: list[tuple[str, str, int]] = []

    def source(pod: Obj, audience: str, seconds: int) -> str:
        asked.append((pod["metadata"]["uid"], audience, seconds))
        return f"token-{len(asked)}"

    vm.tokens = source
    now = [1000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    pod: Obj = {"metadata": {"uid": "u1"}}
    fn = vm.tokens
    assert fn is not None
    assert fn(pod, "", 600) == "token-1"
    now[0] += 479  # under 80 % of 600 s
    assert fn(pod, "", 600) == "token-1"
    assert fn(pod, "vault", 600) == "token-2"  # another audience: another token
    now[0] += 2  # past 480 s
    assert fn(pod, "", 600) == "token-3"
    assert fn({"metadata": {"uid": "u2"}}, "", 600) == "token-4"
    assert len(asked) == 4


def test_the_runtime_hook_knows_only_pods_set_up(tmp_path: Path) -> None:
    vm = manager(tmp_path)
    pod = Pod("ns", "p", {}, ())
    assert vm.container_mounts(pod) == {}
    vm.before_container("ns/p", "c")  # nothing to bind: no error, no runtime needed
    vm.release("ns/p")  # unknown: nothing to remove
