"""Baselines: the same query in the fused, raw and pca spaces, and the leave-one-out evaluation."""

import streamlit as st

from clipret.search.spaces import SPACES
from clipret.ui import baselines_ui, charts, resources, views
from clipret.ui.share import BaselinesState
from clipret.ui.state import publish, share_box, state_from_url

st.title("Baselines", anchor=False)
engine = resources.engine_or_stop()
payloads = resources.clip_payloads(engine)
labels = views.clip_labels(payloads)

state_from_url(BaselinesState, baselines_ui.PREFIX, lambda s: baselines_ui.widget_values(s, list(labels)))
state = baselines_ui.query_controls(labels)
publish(state, baselines_ui.PREFIX)

query = engine.query_from_clip(state.clip)
st.caption(f"Query: **{query.title}** ({query.genre}). ✓ = the result shares the query's genre.")
baselines_ui.side_by_side({s: engine.search(query, state.k, space=s) for s in SPACES}, query.genre)
share_box("baselines", state, resources.settings().public_url)

evaluation = engine.manifest.get("evaluation") or {}
if not evaluation.get("spaces"):
    st.info("This index has no evaluation yet: run `clipret evaluate`.")
    st.stop()
st.header("Evaluation")
st.caption(f"Leave-one-out over {evaluation.get('n_clips', len(payloads))} clips: each clip queries the "
           "rest; a result is relevant when it has the query's genre. random = (n_genre − 1)/(N − 1).")
table = views.evaluation_frame(evaluation)
st.dataframe(table.style.format("{:.3f}"), key="baselines.evaluation")
random_p10 = table.loc["random", "p@10"] if "random" in table.index else None
st.plotly_chart(charts.metric_bars(table.drop(index="random", errors="ignore"), "p@10", random_p10),
                key="baselines.bars")
per_genre = views.per_genre_frame(evaluation, "p@10")
if not per_genre.empty:
    st.subheader("Per genre")
    spaces_only = per_genre[[c for c in per_genre.columns if c in (*SPACES, "random")]]
    st.plotly_chart(charts.per_genre_bars(spaces_only, "p@10"), key="baselines.per_genre_bars")
    st.dataframe(per_genre.style.format("{:.3f}"), key="baselines.per_genre")
