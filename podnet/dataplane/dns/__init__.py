"""podnet.dataplane.dns."""
