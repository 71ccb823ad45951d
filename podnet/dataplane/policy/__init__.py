"""NetworkPolicies and the admin tiers as each node's `inet podnet-policy` table (README.md)."""
