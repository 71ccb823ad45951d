"""podnet.analyze."""
