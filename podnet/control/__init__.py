"""podnet.control."""
