"""Latent map: the clips in 2-D (UMAP, t-SNE, PCA) by genre or cluster; choosing a point opens its search."""

import streamlit as st

from clipret.ui import charts, map_ui, resources, views
from clipret.ui.share import MapState
from clipret.ui.state import publish, share_box, state_from_url

st.title("Latent map", anchor=False)
engine = resources.engine_or_stop()
payloads = resources.clip_payloads(engine)
maps = views.available_maps(payloads)
if not maps:
    st.warning("This index stores no 2-D maps: rebuild it with `clipret build`.")
    st.stop()
genres = views.genres_of(payloads)

state_from_url(MapState, map_ui.PREFIX, lambda s: map_ui.widget_values(s, maps, genres))
state = map_ui.map_controls(maps, genres)
publish(state, map_ui.PREFIX)

frame = views.map_frame(payloads, state.map, state.genres)
st.caption(f"{len(frame)} clips. Hover a point for its title; click one to search with it.")
figure = charts.map_figure(frame, state.color, views.MAP_LABELS[state.map])
event = st.plotly_chart(figure, key="map.chart", on_select="rerun", selection_mode="points")
clip = map_ui.chosen_clip(event)
if clip:
    st.switch_page("pages/1_Search.py", query_params={"clip": clip})
share_box("map", state, resources.settings().public_url)

manifest = engine.manifest
kmeans = manifest.get("kmeans", {})
st.plotly_chart(charts.elbow_figure(views.inertia_frame(manifest), kmeans.get("k")), key="map.elbow")
st.subheader("Clips per cluster")
st.caption("The clips nearest each cluster's centre on this map, as the paper's Figure 2; "
           "each opens its search.")
map_ui.cluster_gallery(views.cluster_samples(frame, map_ui.SAMPLES_PER_CLUSTER))
