"""``python -m bench``: run every phase and print one table."""

import sys

from bench.run import main

sys.exit(main())
