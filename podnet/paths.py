"""Where podnet's own code lives on this machine."""

from __future__ import annotations

from pathlib import Path

# The directory holding the ``podnet`` package: put on ``PYTHONPATH`` so that
# ``python -m podnet...`` works from any working directory inside a pod.
PODNET_ROOT = str(Path(__file__).resolve().parent.parent)
