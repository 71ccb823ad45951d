"""``podnet explain``: one connection traced hop by hop (DNS, Service, endpoint, policy)."""

from podnet.analyze.explain.connection import Explanation, Hop, explain
from podnet.analyze.explain.render import format_text, to_dict

__all__ = ["Explanation", "Hop", "explain", "format_text", "to_dict"]
