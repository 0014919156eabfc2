"""The minimal Streamlit page, driven with streamlit.testing's AppTest."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TEXT = "Apple banana cherry. Apple kiwi. Banana melon. Cherry grape."


def test_paste_and_summarize_with_lead():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    at.sidebar.selectbox[0].set_value("lead")
    at.sidebar.radio[0].set_value("sentences")
    at.sidebar.number_input[0].set_value(2)
    at.text_area[0].input(TEXT).run()
    assert not at.exception
    assert at.text[0].value == "Apple banana cherry.\nApple kiwi."
    marked = [m.value for m in at.markdown if "<mark>" in m.value]
    assert marked and marked[0].count("<mark>") == 2


def test_textrank_default_and_highlight_escapes_html():
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.sidebar.radio[0].set_value("sentences")
    at.sidebar.number_input[0].set_value(1)
    at.text_area[0].input(TEXT + " <script>x</script> apple banana.").run()
    assert at.text[0].value == "Apple banana cherry."
    page = "".join(m.value for m in at.markdown)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_empty_paste_shows_hint_not_error():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.error
    assert any("Paste text or upload" in c.value for c in at.caption)
