"""podnet.analyze.lint.run."""
