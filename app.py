"""clipret's Streamlit entry point: the page list (the search is the home page)."""

import streamlit as st

st.set_page_config(page_title="clipret", page_icon="🎬", layout="wide")
pages = [
    st.Page("pages/1_Search.py", title="Search", icon="🔎", default=True),
    st.Page("pages/2_Latent_map.py", title="Latent map", icon="🗺️", url_path="map"),
    st.Page("pages/3_Baselines.py", title="Baselines", icon="⚖️", url_path="baselines"),
    st.Page("pages/4_Index.py", title="Index", icon="🗂️", url_path="index"),
]
st.navigation(pages).run()
