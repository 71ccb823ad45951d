"""Controllers of `podnet up`: reconcile loops over the API registry (kube-controller-manager)."""
