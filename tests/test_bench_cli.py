"""`python -m bench`'s command line: help, and one sentence for a name or option it does not know."""

from __future__ import annotations

from bench.__main__ import main


def test_help_lists_the_benchmarks(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "python -m bench ray --clips 48" in out and "real_length" in out.split("Benchmarks:")[1]


def test_an_unknown_name_or_option_is_one_sentence_and_runs_nothing(capsys):
    assert main(["real_lenght"]) == 2
    assert "No benchmark named real_lenght: choose from" in capsys.readouterr().err
    assert main(["features", "--clips", "3"]) == 2  # bench_features takes no options
    assert "bench_features takes no options (given: --clips 3)." in capsys.readouterr().err
