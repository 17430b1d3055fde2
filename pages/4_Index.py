"""Index: what is indexed, with which profile, how many clips per genre, and how well it retrieves."""

import streamlit as st

from clipret.ui import resources, views

st.title("The index", anchor=False)
engine = resources.engine_or_stop()
manifest = engine.manifest
headline = views.headline(manifest.get("evaluation") or {})

columns = st.columns(4)
columns[0].metric("Clips", manifest.get("n_clips", "?"))
columns[1].metric("Profile", manifest.get("profile", "?"))
columns[2].metric("Genres", len(manifest.get("genres", {})))
if "fused" in headline:
    delta = f"{headline['fused'] - headline['random']:+.2f} vs random" if "random" in headline else None
    columns[3].metric("P@10 (fused)", f"{headline['fused']:.2f}", delta)
if headline:
    st.caption("P@10, leave-one-out by genre: " + " · ".join(f"{s} {v:.2f}" for s, v in headline.items()))

alias = manifest.get("alias", resources.settings().collection)
st.markdown(f"Collection **{manifest.get('collection', engine.collection)}** behind the alias **{alias}**, "
            f"built {manifest.get('created_utc', '?')}.")
left, right = st.columns(2)
with left:
    st.subheader("Clips per genre")
    st.bar_chart(views.genre_counts(manifest), horizontal=True)
with right:
    st.subheader("Feature blocks")
    st.dataframe(views.blocks_frame(manifest), hide_index=True)
    training = manifest.get("training", {})
    loss = training.get("final_loss")
    loss_text = f", final loss {loss:.4f}" if loss is not None else ""
    st.caption(f"Autoencoder: {training.get('epochs', '?')} epochs (the paper: "
               f"{training.get('paper_epochs', 600)}){loss_text}.")
with st.expander("Timings and package versions"):
    st.json({"timings_s": manifest.get("timings", {}), "packages": manifest.get("packages", {})})
versions = manifest.get("versions")
if versions:
    st.caption(views.versions_line(versions))
st.caption("Grow the index with `clipret add …`; rebuild with `clipret build`.")
