"""The Summarize page's script for ``st.navigation`` (its URL is /summarize); the page is
``ui.summarize.page``."""
from ui import summarize
from ui.settings import get_settings

summarize.page(get_settings())
