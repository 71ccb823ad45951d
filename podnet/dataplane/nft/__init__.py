"""podnet.dataplane.nft.transaction."""
