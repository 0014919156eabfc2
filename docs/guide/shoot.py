"""The user guide's screenshots (docs/USER_GUIDE.md): the real app on the built-in models
(prepare them first: make models), driven through Chromium with the guide's own sample
texts in docs/guide/samples/ (written for the guide). Run by hand, not by the tests:

    .venv/bin/python docs/guide/shoot.py [summarize compare batch generate evaluate history settings]

It starts its own server on port 8777 with a fresh history and settings file."""
import os, subprocess, sys, time, urllib.request, tempfile, zipfile
from pathlib import Path
from playwright.sync_api import sync_playwright
OUT = Path(__file__).resolve().parent
ROOT = OUT.parents[1]
G = OUT / "samples"; data = Path(tempfile.mkdtemp())
with zipfile.ZipFile(data / "news.zip", "w") as z:
    for name in ("article.txt", "second.txt"):
        z.write(G / name, name)
env = {**os.environ, "CONDENSE_HISTORY": str(data / "h.sqlite3"), "CONDENSE_SETTINGS": str(data / "s.json"),
       "CONDENSE_BATCH_ROOT": str(G)}
env.pop("CONDENSE_CACHE", None)  # the built-in models where make models put them
port = 8777; url = f"http://127.0.0.1:{port}"
p = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                      "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                     cwd=ROOT, env=env, stdout=open(data / "log", "wb"), stderr=subprocess.STDOUT)
only = set(sys.argv[1:])

def idle(pg):
    pg.wait_for_timeout(400)
    pg.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()

def shot(pg, name, width=1300):
    h = pg.evaluate("Math.max(...Array.from(document.querySelectorAll('section, div')).map(e => e.scrollHeight))")
    pg.set_viewport_size({"width": width, "height": min(max(h, 900), 4000)}); pg.wait_for_timeout(600)
    pg.screenshot(path=str(OUT / f"{name}.png")); pg.set_viewport_size({"width": width, "height": 900})
    print("shot", name, flush=True)

def paste(pg, text):
    box = pg.get_by_label("…or paste text", exact=True); box.fill(text); box.press("Control+Enter"); idle(pg)

def go(pg, name):
    pg.get_by_test_id("stSidebarNav").get_by_text(name, exact=True).click()
    pg.get_by_role("heading", name=name, exact=True).wait_for(); idle(pg)

def shrink():
    """Keep the pictures small in the repository: 1000 px wide, 128 colours."""
    from PIL import Image
    for path in OUT.glob("*.png"):
        im = Image.open(path)
        w, h = im.size
        if w > 1000:
            im = im.resize((1000, round(h * 1000 / w)), Image.LANCZOS)
        im.convert("RGB").quantize(colors=128, method=Image.MEDIANCUT).save(path, optimize=True)


try:
    for _ in range(200):
        try: urllib.request.urlopen(url + "/_stcore/health"); break
        except OSError: time.sleep(0.5)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
        pg = b.new_page(viewport={"width": 1300, "height": 900}); pg.set_default_timeout(300000)
        pg.goto(url); idle(pg)
        if not only or "summarize" in only:
            paste(pg, (G / "article.txt").read_text()); pg.locator("mark").first.wait_for(); shot(pg, "summarize")
            paste(pg, (G / "chat.txt").read_text()); pg.locator("mark").first.wait_for(); shot(pg, "summarize-dialogue")
            pg.get_by_text("Abstractive (built-in", exact=False).first.click(); idle(pg)
            paste(pg, (G / "article.txt").read_text())
            pg.get_by_role("heading", name="Faithfulness check").wait_for(); idle(pg); shot(pg, "summarize-abstractive")
        if not only or "compare" in only:
            go(pg, "Compare"); paste(pg, (G / "article.txt").read_text())
            pg.get_by_role("heading", name="Side by side").wait_for(); idle(pg); shot(pg, "compare")
        if not only or "batch" in only:
            go(pg, "Batch")
            pg.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(data / "news.zip")); idle(pg)
            pg.get_by_role("button", name="Summarize all").click()
            pg.get_by_text("2 / 2 files", exact=False).first.wait_for(); idle(pg); shot(pg, "batch")
        if not only or "generate" in only:
            go(pg, "Generate")
            box = pg.get_by_label("Headline", exact=True); box.fill("Harbour town votes to rebuild its flooded seafront"); box.press("Control+Enter"); idle(pg)
            pg.get_by_role("button", name="Generate").click()
            pg.locator(".st-key-gen-output").get_by_test_id("stCode").wait_for(); idle(pg); shot(pg, "generate")
        if not only or "evaluate" in only:
            go(pg, "Evaluate")
            pg.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(G / "evaluate-pairs.jsonl")); idle(pg)
            pg.get_by_role("button", name="Evaluate").click()
            pg.get_by_test_id("stVegaLiteChart").first.wait_for(); idle(pg); shot(pg, "evaluate")
        if not only or "history" in only:
            go(pg, "History"); ch = pg.get_by_test_id("stMultiSelect").filter(has_text="Selected runs")
            ch.click(); pg.get_by_role("option").first.click(); pg.keyboard.press("Escape"); idle(pg); shot(pg, "history")
        if not only or "settings" in only:
            go(pg, "Settings"); shot(pg, "settings")
        b.close()
finally:
    p.terminate()
shrink()
