"""podnet.control.dns.lookup."""
