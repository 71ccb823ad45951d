"""``python -m podnet.dataplane.agnhost SUBCOMMAND [flags]`` (the image's ``/agnhost``)."""

from __future__ import annotations

import sys

from podnet.dataplane.agnhost.cli import main

sys.exit(main(sys.argv[1:]))
