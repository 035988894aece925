"""The Streamlit front end: a thin skin over the library (widgets, calls, display, errors shown).

``main.py`` is the entry point (``keras-inspector app``), ``views/`` the pages, ``common.py`` the sidebar and
caches, ``state.py`` the session-state keys, ``settings.py`` environment settings and message formatting.
Only this package imports Streamlit.

Example:
    >>> from inspector.app.settings import upload_limit_mb
    >>> upload_limit_mb(500 * 2**20)
    500
"""
