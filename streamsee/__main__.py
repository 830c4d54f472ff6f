"""`python -m streamsee ...` runs the `streamsee` command line (for machines where it is not installed)."""

import sys

from .cli import main

sys.exit(main())
