"""The offline indexer: `python -m indexer <command>` (see indexer/__main__.py)."""
