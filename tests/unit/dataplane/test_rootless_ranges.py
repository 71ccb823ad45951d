"""The subuid(5)/subgid(5) ranges rootless podnet maps, and newuidmap's arguments (pure)."""

from __future__ import annotations

import pytest

from podnet.dataplane.netns import _map_args, subordinate_ranges

SUBUID = """\
alice:100000:65536
1001:300000:1000
# not a comment in subuid(5), just a malformed line
bob:200000:65536
alice:500000:10
alice:600000:0
carol:x:10
"""


@pytest.mark.parametrize(
    ("name", "uid", "want"),
    [
        ("alice", 1000, [(100000, 65536), (500000, 10)]),  # every range, empty ones skipped
        ("dave", 1001, [(300000, 1000)]),  # by numeric id, as shadow's have_range
        ("bob", 1002, [(200000, 65536)]),
        ("carol", 1003, []),  # malformed
        ("nobody", 65534, []),
    ],
)
def test_rootless_ranges_granted(name: str, uid: int, want: list[tuple[int, int]]) -> None:
    assert subordinate_ranges(SUBUID, name, uid) == want


def test_rootless_map_args_put_ranges_after_zero() -> None:
    args = _map_args(1000, [(100000, 65536), (500000, 10)])
    assert args == ["0", "1000", "1", "1", "100000", "65536", "65537", "500000", "10"]
