"""The Findings Explorer: ``streamlit run app/streamlit_app.py`` (or ``findings app``).

The database comes from ``FINDINGS_DB``. Each page is one module under ``views/`` with one function;
this file only lays out the navigation (without the Add page when the app is read-only). The root URL is
a hidden home page: with ``?node=<id>`` it is that node's page (a node's shareable URL), without it the
search page.

The folder is not called ``pages/`` on purpose: Streamlit treats a ``pages/`` folder beside the main
script as a v1 multipage app, and a server whose first request names a page would run that page file
without this script (and its navigation) from then on.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from app import components

VIEWS = Path(__file__).parent / "views"


def run() -> None:
    st.set_page_config(page_title="Findings Explorer", page_icon=":material/hub:", layout="wide")
    pages = [
        st.Page(VIEWS / "home.py", title="Home", icon=":material/home:", default=True, visibility="hidden"),
        st.Page(VIEWS / "search.py", title="Search", icon=":material/search:", url_path="search"),
        st.Page(VIEWS / "node.py", title="Node", icon=":material/description:", url_path="node",
                visibility="hidden"),
        st.Page(VIEWS / "graph_view.py", title="Graph view", icon=":material/hub:", url_path="graph"),
        st.Page(VIEWS / "findings_table.py", title="Findings table", icon=":material/table_chart:",
                url_path="findings"),
        st.Page(VIEWS / "runs.py", title="Runs", icon=":material/play_circle:", url_path="runs"),
    ]
    read_only = components.read_only()
    if not read_only:  # a read-only app has no page that writes
        pages.append(st.Page(VIEWS / "add.py", title="Add", icon=":material/add_circle:", url_path="add"))
    page = st.navigation(pages)
    components.page_style()
    if read_only:
        st.sidebar.caption("Read-only: this explorer cannot change the graph.")
    page.run()


if __name__ == "__main__":
    run()
