"""nftables for podnet: transactions, table specs, one syncer, names, a fake (README.md)."""
