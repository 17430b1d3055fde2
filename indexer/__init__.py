"""The offline indexer's command line: `python -m indexer <command>` is `clipret <command>` (clipret/cli.py)."""
