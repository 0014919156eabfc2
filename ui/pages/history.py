"""The History page's script for ``st.navigation`` (its URL is /history). "Open in its
page" switches to the page script that shows a run of each kind."""
from ui import history
from ui.settings import get_settings

history.page(get_settings(), pages={kind: f"ui/pages/{path}.py"
                                    for kind, path in history.PAGE_PATHS.items()})
