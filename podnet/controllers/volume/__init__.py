"""Storage controllers (pkg/controller/volume): binding, provisioning, protection."""
