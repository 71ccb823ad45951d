"""podnet.dataplane.policy."""
