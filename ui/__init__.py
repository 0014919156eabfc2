"""The Streamlit pages of app.py. Each page module has ``page(settings)`` built from small
``*_ui()`` functions that return plain values; the work happens in summarizer/,
generation/ and export/, which never import streamlit or this package."""
