"""podnet.analyze.explain.connection."""
