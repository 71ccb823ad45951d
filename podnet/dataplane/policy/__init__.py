"""NetworkPolicies as each node's `inet podnet-policy` table (README.md)."""
