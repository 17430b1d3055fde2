"""The tiny index the app tests run against, built once per test session in a temporary data dir."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from clipret.config import Settings

APP = Path(__file__).resolve().parents[1] / "app.py"
PAGES = ("pages/1_Search.py", "pages/2_Latent_map.py", "pages/3_Baselines.py", "pages/4_Index.py")
PER_GENRE = 2  # clips of each of the demo's nine genres


@functools.cache
def tiny_index() -> Path:
    """A data dir with a demo index built by the indexer library: 9 genres × 2 clips × 3 s, 5 epochs."""
    from clipret.indexing.build import build_index
    from clipret.indexing.train import TrainOptions

    data_dir = _temporary_dir()
    build_index(Settings(data_dir=data_dir), "demo", per_genre=PER_GENRE, seconds=3.0,
                options=TrainOptions(epochs=5, max_k=8), progress=False)
    return data_dir


def _temporary_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="clipret-app-index-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def use_data_dir(monkeypatch, data_dir: Path) -> None:
    """Point the app (Settings.from_env) at `data_dir`, with no other deployment settings."""
    monkeypatch.setenv("CLIPRET_DATA_DIR", str(data_dir))
    for name in ("CLIPRET_PROFILE", "CLIPRET_COLLECTION", "QDRANT_URL", "QDRANT_API_KEY",
                 "CLIPRET_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)


def open_page(page: str | None = None, params: dict[str, str] | None = None, timeout: float = 120):
    """Run the app (AppTest) on `page` ("pages/2_Latent_map.py"; None = home) with these query params."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=timeout)
    if page is not None:
        at.run()  # AppTest switches pages only after a first run
        at.query_params.clear()
        at.switch_page(page)
    at.query_params.update(params or {})
    return at.run()


def texts(elements) -> list[str]:
    return [e.value for e in elements]
