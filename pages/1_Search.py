"""Search: a collection clip, a description in words, a YouTube URL or an uploaded file → the k most similar clips."""

import streamlit as st

from clipret.ui import cards, resources, search_ui, views
from clipret.ui.share import SearchState
from clipret.ui.state import publish, share_box, state_from_url

st.title("Similar music videos", anchor=False)
engine = resources.engine_or_stop()
payloads = resources.clip_payloads(engine)
labels = views.clip_labels(payloads)
genres = views.genres_of(payloads)
modalities = views.modalities_of(engine.manifest)

url_state = state_from_url(SearchState, search_ui.PREFIX,
                           lambda s: search_ui.widget_values(s, list(labels), genres, modalities))
if url_state.clip and url_state.clip not in labels:
    st.error(f"**That clip is not in this index.** The link names clip '{url_state.clip}', which the "
             "index being served does not have: pick a clip below.")

kind, value = search_ui.query_input(labels)
if kind != "clip":
    search_ui.warming_notice(engine)
ranking = search_ui.ranking_controls(genres, modalities, describing=kind == "text")
state = SearchState(clip=value if kind == "clip" and value else "", url=value if kind == "url" else "",
                    q=value if kind == "text" else "", k=ranking["k"], genres=ranking["genres"],
                    space=ranking["space"], weights=ranking["weights"], all_versions=ranking["all_versions"])
publish(state, search_ui.PREFIX)
share_box("search", state, resources.settings().public_url)

query = search_ui.resolve_query(engine, kind, value)
if query is None:
    st.caption(f"{len(payloads)} clips indexed. Pick one, describe what you are looking for, paste a YouTube "
               "URL or upload a file.")
    st.stop()

search_ui.query_summary(query, ranking["show_players"], payloads, search_ui.query_versions(engine, query))
results = search_ui.run_search(engine, query, state)
ranked_by = ("weighted modalities" if state.weights else "the modalities the words reach" if kind == "text"
             else f"the {state.space} space")
st.subheader(f"Top {len(results)} by {ranked_by}")
share = views.same_genre_share(results, query.genre)
if share is not None:
    st.caption(f"{share:.0%} share the query's genre ({query.genre}).")
if not results:
    st.info("No clip matches these filters: widen the genre filter.")
more_like_this = {k: v for k, v in state.to_params().items() if k not in ("clip", "url", "q")}
cards.result_grid(results, query.genre, ranking["show_players"], more_like_this)
