"""podnet.analyze.report.page."""
