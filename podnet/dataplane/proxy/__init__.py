"""podnet.dataplane.proxy."""
