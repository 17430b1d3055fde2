"""`python -m clipret <command>`: the `clipret` command (clipret/cli.py)."""

from clipret.cli import run

if __name__ == "__main__":  # guard: the demo corpus's render workers are spawned and re-import this module
    run()
