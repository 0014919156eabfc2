"""Generate page: a domain preset, a prompt, decoding controls; the text streams in."""
from __future__ import annotations

import streamlit as st

from .settings import AppSettings


def page(settings: AppSettings) -> None:
    st.header("Generate")
    st.info("Text generation is not available yet: the generation package is being built.")
