"""The Evaluate page's script for ``st.navigation`` (its URL is /evaluate); the page is
``ui.evaluate.page``."""
from ui import evaluate
from ui.settings import get_settings

evaluate.page(get_settings())
