"""Page state ↔ query parameters: round trips, defaults left out, hand-edited links never crash."""

from urllib.parse import parse_qs, urlsplit

from clipret.ui.share import BaselinesState, MapState, SearchState, parse_weights, share_link


def test_default_search_state_has_no_params():
    assert SearchState().to_params() == {}
    assert SearchState.from_params({}) == SearchState()


def test_search_state_round_trips():
    state = SearchState(clip="metal-003", k=7, genres=("metal", "punk"), space="pca")
    params = state.to_params()
    assert params == {"clip": "metal-003", "k": "7", "genres": "metal,punk", "space": "pca"}
    assert SearchState.from_params(params) == state


def test_weights_replace_space_in_params():
    state = SearchState(url="https://youtu.be/dQw4w9WgXcQ", space="raw",
                        weights=(("audio", 1.0), ("video", 0.5), ("lyrics", 0.0)))
    params = state.to_params()
    assert "space" not in params
    assert params["weights"] == "audio:1,video:0.5,lyrics:0"
    back = SearchState.from_params(params)
    assert back.weights_dict == {"audio": 1.0, "video": 0.5, "lyrics": 0.0}
    assert back.url == state.url


def test_clip_wins_over_url():
    assert SearchState.from_params({"clip": "a", "url": "https://youtu.be/x"}).url == ""


def test_a_description_travels_in_q_capped_and_behind_a_clip_or_url():
    state = SearchState(q="a slow piano ballad", k=4)
    assert state.to_params() == {"q": "a slow piano ballad", "k": "4"}
    assert SearchState.from_params(state.to_params()) == state
    link = share_link("https://demo.example", "search", state.to_params())
    assert link == "https://demo.example/?q=a+slow+piano+ballad&k=4"
    assert SearchState.from_params({k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}) == state
    assert SearchState.from_params({"q": "  two\n  words "}).q == "two words"
    assert len(SearchState.from_params({"q": "x" * 5000}).q) == 300  # a hand-made link cannot ask for more
    assert SearchState.from_params({"clip": "a", "q": "words"}).q == ""
    assert SearchState.from_params({"url": "https://youtu.be/x", "q": "words"}).q == ""


def test_bad_values_fall_back_to_defaults():
    state = SearchState.from_params({"k": "lots", "space": "latent", "genres": ",,metal,metal,"})
    assert (state.k, state.space, state.genres) == (10, "fused", ("metal",))
    assert SearchState.from_params({"k": "500"}).k == 50
    assert SearchState.from_params({"k": "0"}).k == 1


def test_repeated_params_take_the_last_value():
    assert SearchState.from_params({"k": ["3", "4"]}).k == 4


def test_parse_weights_drops_malformed_entries():
    assert parse_weights("audio:2,video:x,lyrics:-1,:3,Bad Name:1") == (("audio", 1.0),)
    assert parse_weights("audio:0,video:0") == ()
    assert parse_weights("") == ()


def test_map_and_baselines_states_round_trip():
    m = MapState(map="tsne", color="cluster", genres=("soul",))
    assert MapState.from_params(m.to_params()) == m
    assert MapState.from_params({"map": "nonsense"}).map == "umap"
    b = BaselinesState(clip="pop-rock-001", k=5)
    assert BaselinesState.from_params(b.to_params()) == b


def test_share_link_reopens_the_same_state():
    state = SearchState(clip="soul 1", k=5, genres=("soul", "uk-drill"))
    link = share_link("https://clipret.example.org/", "search", state.to_params())
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "clipret.example.org", "/")
    params = {k: v for k, v in parse_qs(parts.query).items()}
    assert SearchState.from_params(params) == state
    assert share_link(None, "map", {}) == "/map"
