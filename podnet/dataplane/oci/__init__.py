"""Containers run by a real OCI runtime (crun, runc as fallback): bundles, isolation, rootfs.

More: README.md here.
"""
