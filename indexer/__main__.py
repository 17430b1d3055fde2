"""`python -m indexer <command>`: see indexer/cli.py for the commands."""

import signal
import sys

from indexer.cli import main


def _stop(signum, frame):
    # SIGTERM as Ctrl-C: every `finally` runs, so the extraction workers (and whatever they started)
    # are stopped with the indexer instead of being left behind; finished clips stay cached.
    raise KeyboardInterrupt


if __name__ == "__main__":  # guard: the demo corpus's render workers are spawned and re-import this module
    signal.signal(signal.SIGTERM, _stop)
    sys.exit(main())
