"""The app (AppTest) with nothing to serve: every page says how to build an index; an unreachable store
is one sentence, not a stack trace."""

import socket

import pytest
from _app_index import PAGES, open_page, texts, use_data_dir

from clipret.ui.resources import BUILD_COMMAND


@pytest.mark.parametrize("page", PAGES)
def test_every_page_without_an_index_says_how_to_build_one(page, tmp_path, monkeypatch):
    use_data_dir(monkeypatch, tmp_path)
    at = open_page(None if page == PAGES[0] else page)
    assert not at.exception and not at.error
    assert any("no index" in t for t in texts(at.info))
    assert BUILD_COMMAND in [c.value for c in at.code]


def test_an_unreachable_store_is_one_clear_sentence(tmp_path, monkeypatch):
    use_data_dir(monkeypatch, tmp_path)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("QDRANT_URL", f"http://127.0.0.1:{port}")
    at = open_page("pages/4_Index.py")
    assert not at.exception
    assert texts(at.error) == [f"The Qdrant server at http://127.0.0.1:{port} cannot be reached: check "
                               "QDRANT_URL and that the server is running."]



def test_the_build_button_runs_the_indexer_and_reports_a_failure(tmp_path, monkeypatch):
    """The button runs `indexer ensure-demo` in a child process; here a stand-in command that fails,
    so the test stays fast: the page shows the failure and its output, and lives on."""
    import sys

    from clipret.ui import resources

    use_data_dir(monkeypatch, tmp_path)
    real_command = resources.demo_build_command
    asked = []

    def failing_build(s):
        asked.append(real_command(s))
        return [sys.executable, "-c", "print('error: no disk space'); raise SystemExit(1)"]

    monkeypatch.setattr(resources, "demo_build_command", failing_build)
    at = open_page(None)
    at.button(key="build_demo").click().run(timeout=60)
    assert not at.exception
    assert [(s.label, s.state) for s in at.status] == [("The demo index could not be built", "error")]
    assert any("error: no disk space" in c.value for c in at.code)
    assert asked[0][1:3] == ["-m", "clipret"]
    assert asked[0][-4:] == ["--data-dir", str(tmp_path), "--quiet", "ensure-demo"]


def test_without_the_aisfx_weights_the_page_says_what_is_missing_instead_of_a_build_button(tmp_path, monkeypatch):
    """A host that installed only requirements.txt (Streamlit Community Cloud) has no aisfx package: the
    page says so in one sentence rather than offering a build that would fail."""
    import sys

    use_data_dir(monkeypatch, tmp_path)
    monkeypatch.setitem(sys.modules, "aisfx", None)  # what the import system treats as not installed
    at = open_page(None)
    assert not at.exception
    assert texts(at.error) == ["The demo index cannot be built here: the portable profile's aisfx audio weights "
                               "are not installed (they need `pip install --no-deps -r requirements-nodeps.txt`, "
                               "which Streamlit Community Cloud does not run)."]
    assert "build_demo" not in [b.key for b in at.button]
