"""`python -m indexer <command>`: see indexer/cli.py for the commands."""

import sys

from indexer.cli import main

if __name__ == "__main__":  # guard: extraction workers are spawned and re-import this module
    sys.exit(main())
