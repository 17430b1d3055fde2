"""clipret's Streamlit entry point: the page list (the search is the home page)."""

import streamlit as st

st.set_page_config(page_title="clipret", page_icon=":material/movie:", layout="wide")
# url paths are the share links' paths (clipret.ui.share.PAGE_PATHS); the search lives at "/".
pages = [
    st.Page("pages/1_Search.py", title="Search", icon=":material/search:", default=True),
    st.Page("pages/2_Latent_map.py", title="Latent map", icon=":material/scatter_plot:", url_path="map"),
    st.Page("pages/3_Baselines.py", title="Baselines", icon=":material/compare_arrows:",
            url_path="baselines"),
    st.Page("pages/4_Index.py", title="Index", icon=":material/inventory_2:", url_path="index"),
]
st.navigation(pages).run()
