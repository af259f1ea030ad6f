"""`python -m pressfeed`: the same commands as the `pressfeed` script."""

import sys

from pressfeed.cli import main

sys.exit(main())
