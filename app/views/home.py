"""The root URL: ``/?node=<id>`` is that node's page (the shareable URL); ``/`` alone is the search page."""
from __future__ import annotations

import streamlit as st


def home_page() -> None:
    if st.query_params.get("node"):
        from app.views.node import node_page

        node_page()
    else:
        from app.views.search import search_page

        search_page()


if __name__ == "__main__":
    home_page()
