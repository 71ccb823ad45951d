"""``podnet report``: one self-contained HTML page (matrix, Services, policies, findings)."""

from podnet.analyze.report.data import build_report_data
from podnet.analyze.report.page import render_report

__all__ = ["build_report_data", "render_report"]
