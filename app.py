"""HAR Studio's entry point (`streamlit run app.py`): the pages, named and with icons, Home first.

Each page is a self-contained script in pages/; `ui.PAGES` lists them once for this menu and for Home's links.
"""
import streamlit as st

from studio import ui

st.navigation([st.Page(path, title=title, icon=icon, default=path == ui.PAGES[0][0])
               for path, title, icon, _ in ui.PAGES]).run()
