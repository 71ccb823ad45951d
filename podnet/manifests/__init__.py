"""podnet.manifests."""
