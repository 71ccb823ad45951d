"""The Kubernetes API over podnet's cluster (``podnet up``): store, REST semantics, HTTP."""
