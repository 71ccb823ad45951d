"""``python -m podnet.dataplane.images.agnhost SUBCOMMAND [flags]`` (the image's ``/agnhost``)."""

from __future__ import annotations

import sys

from podnet.dataplane.images.agnhost.cli import main

sys.exit(main(sys.argv[1:]))
