"""The live cluster core ``podnet run`` shares with ``podnet up``: the store, the Registry,
the controllers and the kubelet around one LiveCluster (see :mod:`.core`)."""
