"""clipret's Streamlit entry point (placeholder until the app issue lands)."""

import streamlit as st

st.set_page_config(page_title="clipret", page_icon="🎬", layout="wide")
st.title("clipret")
st.info("No index yet. Build one with `python -m indexer build --from demo`, then reload this page.")
