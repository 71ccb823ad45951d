"""Property: under any sequence of allocate/release, live pods never share an IP, and
a re-allocated pod does not get back an address released while others were free."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from podnet.control.ipam import PodIPAllocator
from podnet.control.scheduler import make_nodes

OPS = st.lists(
    st.tuples(st.booleans(), st.integers(0, 40), st.integers(0, 1)), min_size=1, max_size=250
)


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_unique_and_fresh(ops: list[tuple[bool, int, int]]) -> None:
    alloc = PodIPAllocator(make_nodes(2))
    live: dict[str, str] = {}
    last_released: dict[str, str] = {}
    for is_alloc, n, node in ops:
        key = f"ns/p{n}"
        if is_alloc:
            if key in live:
                continue
            ip = alloc.allocate(key, f"node-{node}")
            assert ip not in live.values()
            # < 253 allocations per node: the cursor never wraps, so the address is fresh
            assert ip != last_released.get(key)
            live[key] = ip
        else:
            released = alloc.release(key)
            assert released == live.pop(key, None)
            if released is not None:
                last_released[key] = released
    assert alloc.in_use() == {ip: k for k, ip in live.items()}
