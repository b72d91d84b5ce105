"""The Streamlit app's own helpers (page set-up, model menus, session folders, error display): everything the
pages share that needs Streamlit. The library, har_core, has no Streamlit code; see studio/ui.py."""
