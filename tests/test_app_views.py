"""The tables the pages show, shaped from known payloads and a known manifest."""

from clipret.search.engine import SearchResult
from clipret.ui import views


def payload(cid, title, genre, cluster, xy):
    return {"clip_id": cid, "title": title, "genre": genre, "cluster": cluster,
            **{f"map_{m}": list(xy) for m in ("umap", "tsne", "pca", "raw_pca", "pca_pca")}}


PAYLOADS = [
    payload("a", "beta", "metal", 0, (0.0, 0.0)),
    payload("b", "Alpha", "metal", 0, (1.0, 0.0)),
    payload("c", "gamma", "punk", 0, (10.0, 0.0)),  # far from its cluster's centre
    payload("d", "delta", "soul", 1, (5.0, 5.0)),
]
EVALUATION = {
    "n_clips": 4,
    "spaces": {s: {"p@5": v, "p@10": v, "ndcg@10": v, "map": v} for s, v in
               {"lyrics": 0.2, "random": 0.1, "raw": 0.5, "fused": 0.8, "audio": 0.3, "pca": 0.4}.items()},
    "per_genre": {"soul": {"fused": {"p@10": 0.7}, "random": {"p@10": 0.1}},
                  "metal": {"fused": {"p@10": 0.9}, "random": {"p@10": 0.2}}},
}


def test_clip_labels_are_sorted_by_title():
    assert list(views.clip_labels(PAYLOADS).items())[:2] == [("b", "Alpha · metal"), ("a", "beta · metal")]


def test_map_frame_filters_genres_and_reads_the_chosen_map():
    frame = views.map_frame(PAYLOADS, "tsne", genres=["metal"])
    assert list(frame["clip_id"]) == ["a", "b"]
    assert list(frame["cluster"]) == ["0", "0"] and frame.loc[1, "x"] == 1.0
    assert views.available_maps(PAYLOADS) == ["umap", "tsne", "pca", "raw_pca", "pca_pca"]
    assert views.available_maps([{"clip_id": "x", "map_pca": [0, 0]}]) == ["pca"]


def test_cluster_samples_are_the_most_central_clips():
    clusters = views.cluster_samples(views.map_frame(PAYLOADS, "pca"), per_cluster=2)
    first = clusters[0]
    assert (first["cluster"], first["n"], first["genre"]) == ("0", 3, "metal")
    assert first["genre_share"] == 2 / 3
    assert list(first["samples"]["clip_id"]) == ["b", "a"]  # centre is (11/3, 0): b, then a; c is farthest
    assert clusters[1]["n"] == 1


def test_evaluation_frame_orders_spaces_then_modalities_then_random():
    table = views.evaluation_frame(EVALUATION)
    assert list(table.index) == ["fused", "raw", "pca", "audio", "lyrics", "random"]
    assert table.loc["fused", "p@10"] == 0.8
    assert views.headline(EVALUATION) == {"fused": 0.8, "raw": 0.5, "pca": 0.4, "random": 0.1}


def test_per_genre_frame_is_genres_by_space():
    table = views.per_genre_frame(EVALUATION, "p@10")
    assert list(table.index) == ["metal", "soul"] and list(table.columns) == ["fused", "random"]
    assert table.loc["soul", "fused"] == 0.7


def test_results_frame_marks_same_genre_hits():
    results = [SearchResult("a", "A", "metal", 0.9, {}, {}), SearchResult("c", "C", "punk", 0.5, {}, {})]
    frame = views.results_frame(results, "metal")
    assert list(frame["same genre"]) == ["✓", "—"] and list(frame["rank"]) == [1, 2]
    assert views.same_genre_share(results, "metal") == 0.5
    assert views.same_genre_share(results, "") is None


def test_manifest_tables():
    manifest = {"genres": {"soul": 2, "metal": 3},
                "kmeans": {"k": 3, "inertias": {"10": 1.0, "2": 9.0, "3": 4.0}},
                "blocks": [{"name": "audio", "modality": "audio", "dim": 257},
                           {"name": "video", "modality": "video", "dim": 1000},
                           {"name": "dynamics", "modality": "video", "dim": 12}]}
    assert list(views.inertia_frame(manifest)["k"]) == [2, 3, 10]
    assert views.genre_counts(manifest).loc["metal", "clips"] == 3
    assert views.modalities_of(manifest) == ["audio", "video"]
