"""The app's Streamlit helpers: the only part of clipret that imports streamlit (nothing else imports it)."""
