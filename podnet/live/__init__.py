"""The live cluster: the controllers realised in namespaces, nftables and processes."""
