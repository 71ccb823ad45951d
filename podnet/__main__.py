"""`python -m podnet`."""

import sys

from podnet.cli.main import main

sys.exit(main())
