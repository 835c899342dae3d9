"""``python -m campaign.report DIR``: see :func:`campaign.report.main`."""

import sys

from . import main

sys.exit(main())
