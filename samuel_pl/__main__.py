"""``python -m samuel_pl <command>``: the same as the ``samuel`` console script."""

import sys

from samuel_pl.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
