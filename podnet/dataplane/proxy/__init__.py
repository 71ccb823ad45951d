"""The Service proxy: Services and endpoints as the `ip podnet-proxy` table (README.md)."""
