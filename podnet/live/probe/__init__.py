"""podnet.live.probe.runner."""
