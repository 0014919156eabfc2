"""The Compare page's script for ``st.navigation`` (its URL is /compare); the page is
``ui.compare.page``."""
from ui import compare
from ui.settings import get_settings

compare.page(get_settings())
