"""The shared table helper: specs rendered in one place, generated names, the syncer."""

from __future__ import annotations

import logging

import pytest

from podnet.dataplane.nft.fake import FakeNft
from podnet.dataplane.nft.names import NAME_MAX, generated_name, is_generated, short_hash
from podnet.dataplane.nft.objects import (
    Chain,
    Map,
    Set,
    Table,
    chains_of,
    diff,
    full_transaction,
    sets_of,
)
from podnet.dataplane.nft.syncer import TableSyncer
from podnet.dataplane.nft.transaction import Transaction
from podnet.errors import NftError


def test_generated_names_are_kube_proxy_shaped() -> None:
    # kube-proxy: base32(sha256(key))[:8] + "-" + key (proxier.go hashAndTruncate)
    # the hash of kube-proxy's own example chain "service-ULMVA6XW-ns1/svc1/tcp/p80"
    assert short_hash("ns1/svc1/tcp/p80") == "ULMVA6XW"
    name = generated_name("svc", "default/my-service/tcp/80", "default/my-service/tcp/80")
    assert name == f"svc-{short_hash('default/my-service/tcp/80')}-default-my-service-tcp-80"
    assert is_generated(name) and not is_generated("service-ips") and not is_generated("be-2")
    long = generated_name("pol-in", "x" * 400, "y" * 400)
    assert len(long) == NAME_MAX and is_generated(long)
    assert generated_name("pol-in", "a", "same") != generated_name("pol-in", "b", "same")
    assert (
        generated_name("cidr", "k", 'a"; flush ruleset')
        == f"cidr-{short_hash('k')}-a-flush-ruleset"
    )


TABLE = Table(
    "ip",
    "t",
    sets_of(
        Set("ips", "ipv4_addr", flags=("interval",)),
        Map("m", "ipv4_addr : verdict"),
        Map(
            "aff", "ipv4_addr : ipv4_addr . inet_service", flags=("dynamic", "timeout"), timeout=60
        ),
        Map("be", typeof="ip daddr . numgen random mod 2 : ip daddr"),
    ),
    chains_of(
        Chain("target", ("accept",)),
        Chain(
            "pre",
            ("ip daddr vmap @m", "ip saddr @ips drop"),
            "filter",
            "prerouting",
            "dstnat + 10",
            "accept",
        ),
    ),
    {"ips": {"10.0.0.0-10.0.0.255": None}, "m": {"10.1.0.1": "goto target"}},
)

GOLDEN = """\
add table ip t
delete table ip t
add table ip t
add set ip t ips { type ipv4_addr; flags interval; }
add map ip t m { type ipv4_addr : verdict; }
add map ip t aff { type ipv4_addr : ipv4_addr . inet_service; flags dynamic,timeout; timeout 60s; }
add map ip t be { typeof ip daddr . numgen random mod 2 : ip daddr; }
add chain ip t target
add chain ip t pre { type filter hook prerouting priority dstnat + 10; policy accept; }
add rule ip t target accept
add rule ip t pre ip daddr vmap @m
add rule ip t pre ip saddr @ips drop
add element ip t ips { 10.0.0.0-10.0.0.255 }
add element ip t m { 10.1.0.1 : goto target }
"""


def test_one_renderer_golden() -> None:
    assert full_transaction(TABLE).render() == GOLDEN


def test_diff_reaches_the_full_sync_state_and_refuses_redeclaration() -> None:
    new = Table(
        "ip",
        "t",
        {k: v for k, v in TABLE.sets.items() if k != "aff"},
        {**TABLE.chains, "target": Chain("target", ("drop",))},
        {"ips": {}, "m": {"10.1.0.2": "goto target"}},
    )
    tx = diff(TABLE, new)
    assert tx is not None
    assert dict(tx.counts()) == {
        ("flush", "chain"): 1,
        ("add", "rule"): 1,
        ("delete", "element"): 2,
        ("add", "element"): 1,
        ("delete", "map"): 1,
    }
    fake, fresh = FakeNft(), FakeNft()
    fake.run(full_transaction(TABLE))
    fake.run(tx)
    fresh.run(full_transaction(new))
    assert fake.snapshot() == fresh.snapshot()
    redeclared = Table("ip", "t", {**TABLE.sets, "ips": Set("ips", "ipv4_addr")}, TABLE.chains)
    assert diff(TABLE, redeclared) is None


class Flaky(FakeNft):
    def __init__(self) -> None:
        super().__init__()
        self.fail = 0  # fail this many next transactions

    def run(self, tx: Transaction) -> None:
        if self.fail:
            self.fail -= 1
            raise NftError(["fake"], 1, "boom")
        super().run(tx)


def test_syncer_full_partial_fallback_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    fake = Flaky()
    s = TableSyncer(fake, "ip t")

    def full() -> Transaction:
        return full_transaction(TABLE)

    assert s.sync(full, lambda: Transaction("ip", "t")) == len(full())  # first: full
    assert s.sync(full, lambda: Transaction("ip", "t")) == 0 and s.full_syncs == 1
    assert s.sync(full, lambda: None) == len(full()) and s.full_syncs == 2  # cannot be partial
    fake.fail = 1
    with caplog.at_level(logging.WARNING):
        s.sync(full, lambda: diff(TABLE, TABLE))
    assert (s.full_syncs, s.failed_syncs) == (3, 1) and isinstance(s.last_error, NftError)
    assert "partial sync failed" in caplog.text
    fake.fail = 2  # the partial and the full fall back fail: raised, and retried as full
    with pytest.raises(NftError):
        s.sync(full, lambda: diff(TABLE, TABLE))
    assert (s.in_sync, s.failed_syncs) == (False, 3)
    calls: list[str] = []

    def partial() -> Transaction | None:
        calls.append("partial")
        return None

    s.sync(full, partial)
    assert calls == [] and s.in_sync and s.full_syncs == 4
