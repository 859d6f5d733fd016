"""The rendered book in a real browser: headless Chromium (offline flags) loads every page from a local HTTP
server at 1280 px; no broken images or internal links, no error outputs, every chapter's figures rendered, no table
wider than the page, no parameter cell or machine-local path shown, and a verdict badge on the scorecard and on
every chapter. Screenshots of each page at 1280 px and at 400 px (a phone) are saved under _build/screenshots/ (CI
keeps them as artifacts).

Needs Debian's chromium (.ci/run installs it) and the Python package playwright (a test extra). Outside CI the
test is skipped when either is missing; in CI (CI=true) a missing browser is a failure, not a skip."""
import functools
import http.server
import os
import shutil
import threading
import urllib.parse
import re
import urllib.request

import pytest

from reproduce.catalog import CHAPTERS
from reproduce.results import REPO_ROOT

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OFFLINE_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = REPO_ROOT / "_build" / "screenshots"
FIGURES_EXPECTED = {"01_mnist.html": 1, "02_omitted_digit.html": 2}
WIDTH, PHONE = 1280, 400
# pages that must show a verdict badge: the scorecard and every chapter
BADGED = {f"{c.notebook}.html" for c in CHAPTERS} | {"99_scorecard.html"}
# what a machine-local path looks like in a page's text (a record's /tmp/... path, a home or work folder)
LOCAL_PATH = re.compile(r"(?<![\w.])/(?:tmp|home|root|work|Users|var/folders)/[\w.-]+")
# JavaScript: each table whose right edge passes the page's text column (the article, not the side bars), or
# whose box scrolls sideways
OVERFLOWING_TABLES = """() => {
  const col = document.querySelector('article') || document.querySelector('main') || document.body;
  const limit = Math.min(col.getBoundingClientRect().right, document.documentElement.clientWidth) + 1;
  return Array.from(col.querySelectorAll('table')).filter(t => {
    const box = t.parentElement;
    return t.getBoundingClientRect().right > limit || box.scrollWidth > box.clientWidth + 1;
  }).map(t => (t.innerText || '').slice(0, 60).replace(/\\s+/g, ' '));
}"""


def _require_browser():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed (pip install -e '.[test]')")
        pytest.skip("playwright is not installed")
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed")


@pytest.fixture(scope="module")
def server(built_book):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built_book))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.handle_error = lambda *a: None  # the browser closing a connection early is not a page problem
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", built_book
    httpd.shutdown()


def test_every_page_in_a_real_browser(server):
    _require_browser()
    from playwright.sync_api import sync_playwright
    base, root = server
    pages = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html")
                   if p.name not in ("search.html", "genindex.html") and "_static" not in p.parts)
    assert "index.html" in pages and len(pages) >= 5
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems, checked_links = [], set()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=OFFLINE_FLAGS)
        page = browser.new_page(viewport={"width": WIDTH, "height": 900})
        # the book may reference CDNs (MathJax); offline, those requests are dropped, not counted as broken
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else route.abort())
        for rel in pages:
            resp = page.goto(base + rel, wait_until="load")
            if resp is None or resp.status != 200:
                problems.append(f"{rel}: HTTP {resp.status if resp else 'no response'}")
                continue
            page.wait_for_load_state("networkidle")  # the root index.html redirects to the first page
            if page.url.split("#")[0] != base + rel:
                continue  # a redirect: its target is visited in its own right
            broken = page.evaluate("Array.from(document.images).filter(i => i.src.startsWith(location.origin) && "
                                   "!(i.complete && i.naturalWidth > 0)).map(i => i.src)")
            problems += [f"{rel}: broken image {src}" for src in broken]
            n_img = page.evaluate("document.querySelectorAll('main img, article img').length")
            need = FIGURES_EXPECTED.get(rel.rsplit("/", 1)[-1], 0)
            if n_img < need:
                problems.append(f"{rel}: {n_img} figures, expected at least {need}")
            errors = page.evaluate("document.querySelectorAll('.output.error, .output.traceback, "
                                   "div.cell_output .traceback').length")
            if errors:
                problems.append(f"{rel}: {errors} error outputs")
            text = page.inner_text("body")
            if "Traceback (most recent call last)" in text:
                problems.append(f"{rel}: a traceback is shown")
            if "<IPython.core.display." in text or "object at 0x" in text:
                problems.append(f"{rel}: an object's repr is shown instead of its value (glue:text of a Markdown?)")
            wide = page.evaluate(OVERFLOWING_TABLES)
            problems += [f"{rel}: a table wider than the page at {WIDTH} px: {w!r}" for w in wide]
            if "Parameters (papermill" in text or page.evaluate(
                    "document.querySelectorAll('.tag_parameters, .tag_injected-parameters').length"):
                problems.append(f"{rel}: a parameter cell is shown")
            problems += [f"{rel}: a machine-local path is shown: {m}" for m in sorted(set(LOCAL_PATH.findall(text)))]
            name = rel.rsplit("/", 1)[-1]
            if name in BADGED and not page.evaluate("document.querySelectorAll('main .verdict').length"):
                problems.append(f"{rel}: no verdict badge")
            for href in page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"):
                if not href.startswith(base):
                    continue  # external links (and data: downloads) are not this book's to check
                url, _, frag = href.partition("#")
                if url not in checked_links:
                    checked_links.add(url)
                    try:
                        urllib.request.urlopen(url, timeout=10).close()
                    except Exception as e:
                        problems.append(f"{rel}: broken link {href} ({e})")
                        continue
                if frag and url == (base + rel):
                    if not page.evaluate("id => !!document.getElementById(id)", urllib.parse.unquote(frag)):
                        problems.append(f"{rel}: missing anchor #{frag}")
            page.screenshot(path=str(SHOTS / (rel.replace("/", "__") + ".png")), full_page=True)
        phone = browser.new_page(viewport={"width": PHONE, "height": 860})
        phone.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else route.abort())
        for rel in pages:
            phone.goto(base + rel, wait_until="load")
            phone.wait_for_load_state("networkidle")
            if phone.url.split("#")[0] == base + rel:
                phone.screenshot(path=str(SHOTS / (rel.replace("/", "__") + f".{PHONE}px.png")), full_page=True)
        browser.close()
    assert not problems, "\n".join(problems)
