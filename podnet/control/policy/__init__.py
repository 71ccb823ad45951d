"""podnet.control.policy.engine."""
