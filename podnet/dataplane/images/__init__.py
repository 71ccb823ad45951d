"""podnet.dataplane.images.registry."""
