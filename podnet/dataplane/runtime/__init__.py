"""podnet.dataplane.runtime.pods."""
