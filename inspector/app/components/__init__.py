"""Streamlit components of the app (the only modules besides pages that talk to the browser)."""
