"""One script per page for ``st.navigation`` (each page gets its own URL, and
streamlit.testing's ``AppTest.switch_page`` can open it). Each script is two lines that
call its page in ``ui/``."""
