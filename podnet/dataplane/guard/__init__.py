"""Anti-spoofing: each node's `inet podnet-guard` table; a pod sends from its own IP (README.md)."""
