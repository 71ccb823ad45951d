"""podnet.dataplane."""
