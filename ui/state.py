"""What the user typed survives switching pages.

Streamlit forgets a widget's value at the end of a run in which the widget was not drawn,
so with one page per URL a pasted article would be gone after a look at Settings. Writing
each input's value back into ``st.session_state`` at the start of every run turns it into
plain session state, which Streamlit keeps; the widget picks it up again when its page is
drawn (the pattern Streamlit's docs give for multipage apps).

Which keys: the inputs of the pages, named ``<page>.<name>`` (``sum.text``,
``cmp.methods``). Buttons, download buttons and file uploaders cannot be given a value
that way (Streamlit raises), so their keys end in one of ``NOT_KEPT``; an uploaded file is
kept as bytes by ``ui.widgets.document_ui`` instead.
"""
from __future__ import annotations

from typing import Iterable, List

import streamlit as st

PAGE_PREFIXES = ("sum.", "cmp.", "batch.", "gen.", "eval.", "set.", "hist.")
PREFIX_OF_PAGE = {"": "sum.", "summarize": "sum.",  # "": the default page
                   "compare": "cmp.", "batch": "batch.", "generate": "gen.",
                  "evaluate": "eval.", "settings": "set.", "history": "hist."}
# buttons (.run .stop .go .clear .delete .prepare), uploaders (.upload .files .refs .pairs),
# download buttons (.dl.<format>)
NOT_KEPT = (".run", ".stop", ".go", ".clear", ".delete", ".prepare",
            ".upload", ".files", ".refs", ".pairs")


def is_kept(key: str) -> bool:
    """Whether ``key`` names a page input whose value is carried across pages."""
    return (key.startswith(PAGE_PREFIXES) and not key.endswith(NOT_KEPT)
            and ".dl." not in key and ".btn" not in key)


def kept_keys(keys: Iterable[str]) -> List[str]:
    return [k for k in keys if isinstance(k, str) and is_kept(k)]


def keep_inputs(current: str = "") -> None:
    """Call once per run, before the page draws its widgets. ``current`` is the prefix
    of the page about to be drawn: its widgets are drawn in this run, so nothing would
    drop them, and writing their values back could undo a change the browser sends while
    the run is going (a slider moved key by key lost steps that way under load)."""
    for key in kept_keys(list(st.session_state.keys())):
        if not (current and key.startswith(current)):
            st.session_state[key] = st.session_state[key]
