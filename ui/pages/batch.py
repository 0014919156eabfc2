"""The Batch page's script for ``st.navigation`` (its URL is /batch); the page is
``ui.batch.page``."""
from ui import batch
from ui.settings import get_settings

batch.page(get_settings())
