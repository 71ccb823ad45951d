"""podnet.dataplane.sandbox.namespaces."""
