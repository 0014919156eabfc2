"""The Settings page's script for ``st.navigation`` (its URL is /settings)."""
from ui.settings import settings_ui

settings_ui()
