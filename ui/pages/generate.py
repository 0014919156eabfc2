"""The Generate page's script for ``st.navigation`` (its URL is /generate); the page is
``ui.generate.page``."""
from ui import generate
from ui.settings import get_settings

generate.page(get_settings())
