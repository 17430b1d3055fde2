"""The latent-map, baselines and index pages (AppTest) against the tiny index."""

from __future__ import annotations

import json

import pytest
from _app_index import open_page, texts, use_data_dir

from clipret.config import Settings
from clipret.search.spaces import SPACES
from clipret.ui.resources import shared_store

pytestmark = pytest.mark.slow  # the session's tiny index takes a minute or more to build


@pytest.fixture
def payloads(index_dir, monkeypatch):
    use_data_dir(monkeypatch, index_dir)
    settings = Settings.from_env()
    return shared_store(settings).all_payloads(settings.collection)


def map_points(at) -> list[str]:
    """The clip ids drawn on the latent map (each point carries its clip id as customdata)."""
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return [c[0] for trace in spec["data"] for c in trace.get("customdata", [])]


def test_the_map_draws_one_point_per_clip(payloads):
    at = open_page("pages/2_Latent_map.py", {"map": "pca"})
    assert not at.exception
    assert sorted(map_points(at)) == sorted(p["clip_id"] for p in payloads)
    assert at.selectbox(key="map.map").value == "pca"
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in spec["data"]} == {p["genre"] for p in payloads}  # one trace per genre


def test_the_map_filters_genres_and_colours_by_cluster(payloads):
    at = open_page("pages/2_Latent_map.py", {"map": "tsne", "color": "cluster", "genres": "metal,soul"})
    assert not at.exception
    expected = sorted(p["clip_id"] for p in payloads if p["genre"] in ("metal", "soul"))
    assert sorted(map_points(at)) == expected
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    clusters = {str(p["cluster"]) for p in payloads if p["genre"] in ("metal", "soul")}
    assert {t["name"] for t in spec["data"]} == clusters
    assert dict(at.query_params) == {"map": "tsne", "color": "cluster", "genres": "metal,soul"}


def test_the_map_shows_the_elbow_and_clusters(payloads):
    at = open_page("pages/2_Latent_map.py")
    elbow = json.loads(at.get("plotly_chart")[1].proto.spec)
    assert elbow["layout"]["title"]["text"].startswith("KMeans elbow")
    n_clusters = len({p["cluster"] for p in payloads})
    assert sum(t.startswith("**Cluster ") for t in texts(at.markdown)) == n_clusters


def test_baselines_show_three_lists_and_the_evaluation(payloads):
    query = payloads[0]
    at = open_page("pages/3_Baselines.py", {"clip": query["clip_id"], "k": "4"})
    assert not at.exception
    assert texts(at.subheader)[:3] == list(SPACES)
    lists = [df.value for df in at.dataframe[:3]]  # one per space, in SPACES order
    assert [len(df) for df in lists] == [4, 4, 4]
    for df in lists:
        assert query["title"] not in set(df["title"])
        same = df["genre"] == query["genre"]
        assert (df.loc[same, "same genre"] == "✓").all() and (df.loc[~same, "same genre"] == "—").all()
    table = at.dataframe[3].value
    assert {"fused", "raw", "pca", "random"} <= set(table.index)
    assert list(table.columns) == ["p@5", "p@10", "ndcg@10", "map"]


def test_index_page_says_what_is_indexed(payloads):
    at = open_page("pages/4_Index.py")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Clips"] == str(len(payloads))
    assert metrics["Profile"] == "portable"
    assert metrics["Genres"] == str(len({p["genre"] for p in payloads}))
    assert "P@10 (fused)" in metrics
