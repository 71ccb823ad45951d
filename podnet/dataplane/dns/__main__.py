"""``python -m podnet.dataplane.dns``: the DNS pod's program (see :mod:`.main`)."""

import sys

from podnet.dataplane.dns.main import main

sys.exit(main(sys.argv[1:]))
