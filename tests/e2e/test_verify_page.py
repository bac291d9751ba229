"""Issue 17 items 9 and 10: the verification page (/verify, linked from /)
in a real browser.  Headless Chromium, driven through chromedriver by
Selenium, uploads the project's vectors (tests/vectors) through the page's
file inputs and reads what the page shows: every file's outcome is the one
tests/vectors/README.md gives (encoded in VECTOR_OUTCOMES below, as the
checks the page lists), a seal made and used here shows TOTAL_PASSED with
its name, esID and its box drawn on the page, a tampered OFD shows the
failure, and at a phone's width (375 x 800) nothing scrolls sideways.  A
screenshot of each is kept in $SEALD_BUILD_DIR/artefacts/verify-page/
(sqlite/ or postgresql/, by the run's dialect).

The page's files are checked too: their Content-Type, the
Content-Security-Policy, nosniff, ETag revalidation, that the browser
reports no CSP violation and that the page asks nothing of another origin.

scripts/deps --test installs chromium, chromium-driver and
python3-selenium; without them these tests fail (they are not skipped)."""
import base64
import io
import os
import shutil
import tempfile
import zipfile

import pytest

from conftest import DIALECT, Instance
from ofdgen import ofd
from openapi_check import check_response, resolve, spec
from test_ofd_api import seal_ofd
from test_seals import Seals
from test_signing import approve, doc, sign, submit

VECTORS = os.environ.get("SEALD_VECTORS", os.path.join(
    os.path.dirname(__file__), "..", "vectors"))
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/lib/chromium/chromium"
# one directory per dialect: ctest runs e2e and e2e.pg side by side
ARTEFACTS = os.path.join(os.environ.get("SEALD_BUILD_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "build")), "artefacts",
    "verify-page", DIALECT)
WAIT_S = 60                 # the longest a verification may take to show
# The module sends some thirty public verifications from one address in
# seconds: above the default per-address rate and CPU budget, which
# tests/e2e/test_public_verify.py tests.  Here they must not get in the way.
ROOMY = ("public.verify_rate_limit_rps=100000",
         "public.verify_rate_limit_burst=100000",
         "public.verify_cpu_ms_per_second=100000")

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:         # reported by the browser fixture, as a failure
    webdriver = None


def need_browser():
    missing = [p for p in (CHROMEDRIVER, CHROMIUM) if not os.path.exists(p)]
    if webdriver is None:
        missing.append("the selenium module (python3-selenium)")
    if missing:
        pytest.fail("the browser tests need " + ", ".join(missing) +
                    ": run scripts/deps --test (Debian packages chromium, "
                    "chromium-driver, python3-selenium)")


# What tests/vectors/README.md says of each file, as the page shows it:
# (kind, files by slot, overall indication or None when the README does not
# decide it, {scope.check: status} of the first seal).  The vectors' roots
# are not among this instance's anchors, so the chain is indeterminate and
# "all valid" files come out INDETERMINATE with every cryptographic check
# passed, as the README's note on untrusted roots says.
SIG = "signatures"
ANY_DOC = ("any-document.txt", b"not the document that was signed\n")
VECTOR_OUTCOMES = [
    # ofd/
    ("v4signed.ofd", "ofd", {"ofd": ("ofd", "v4signed.ofd")}, "INDETERMINATE",
     {"package.references": "passed", "seal.signature": "passed",
      "seal.seal_signature": "passed", "seal.data_hash": "passed",
      "seal.certificate_chain": "indeterminate"}),
    ("signedFile.ofd", "ofd", {"ofd": ("ofd", "signedFile.ofd")},
     "INDETERMINATE",
     {"package.references": "passed", "seal.signature": "passed",
      "seal.seal_signature": "passed", "seal.data_hash": "passed"}),
    ("allprotected.ofd", "ofd", {"ofd": ("ofd", "allprotected.ofd")},
     "INDETERMINATE",
     {"package.references": "passed", "package.seal_file": "passed",
      "seal.signature": "passed", "seal.seal_signature": "passed",
      "seal.data_hash": "passed"}),
    ("DigitalSign.ofd", "ofd", {"ofd": ("ofd", "DigitalSign.ofd")},
     "INDETERMINATE",
     {"package.references": "passed", "package.signature": "indeterminate"}),
    ("v1-dms360.ofd", "ofd", {"ofd": ("ofd", "v1-dms360.ofd")},
     "TOTAL_FAILED",
     {"package.references": "failed", "seal.seal_signature": "passed",
      "seal.signature": "failed", "seal.data_hash": "failed"}),
    ("keyword-edited.ofd", "ofd", {"ofd": ("ofd", "keyword-edited.ofd")},
     "TOTAL_FAILED",
     {"package.references": "failed", "seal.signature": "passed",
      "seal.seal_signature": "passed"}),
    # seals/
    ("ofdrw-UserV1.esl", "seal", {"seal": ("seals", "ofdrw-UserV1.esl")},
     None, {"seal.seal_signature": "passed"}),
    ("ofdrw-UserV4.esl", "seal", {"seal": ("seals", "ofdrw-UserV4.esl")},
     None, {"seal.seal_signature": "passed"}),
    ("ofdrw-UserV5.esl", "seal", {"seal": ("seals", "ofdrw-UserV5.esl")},
     None, {"seal.seal_signature": "passed"}),
    ("ofdrw-UserV5_ts.esl", "seal",
     {"seal": ("seals", "ofdrw-UserV5_ts.esl")}, None,
     # "present but not a valid token": not a proof of time, so the check
     # cannot pass (indeterminate, with the reason listed)
     {"seal.seal_signature": "passed", "seal.timestamp": "indeterminate"}),
    ("hebeigede-v4-badsig.der", "seal",
     {"seal": ("seals", "hebeigede-v4-badsig.der")}, "TOTAL_FAILED",
     {"seal.seal_signature": "failed"}),
    # signatures/: with some document, since the page asks for one
    ("ofdrw-SignedValueV4.dat", "signature",
     {"signature": (SIG, "ofdrw-SignedValueV4.dat"), "document": ANY_DOC},
     "TOTAL_FAILED",
     {"seal.signature": "passed", "seal.seal_signature": "passed",
      "seal.data_hash": "failed"}),
    ("ofdrw-SignedValueV5.dat", "signature",
     {"signature": (SIG, "ofdrw-SignedValueV5.dat"), "document": ANY_DOC},
     "TOTAL_FAILED",
     {"seal.signature": "passed", "seal.seal_signature": "passed",
      "seal.data_hash": "failed"}),
] + [
    (f"{n}-Sign_0", "signature",
     {"signature": (SIG, f"{n}-Sign_0.SignedValue.dat"),
      "document": (SIG, f"{n}-Sign_0.Signature.xml")}, "INDETERMINATE",
     {"seal.data_hash": "passed", "seal.signature": "passed",
      "seal.seal_signature": "passed"})
    for n in ("v4signed", "signedFile", "allprotected")
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("verifypage") / "inst")
    inst.start(*[a for kv in ROOMY for a in ("--set", kv)])
    w = Seals(inst)
    w.files = tmp_path_factory.mktemp("upload")
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


@pytest.fixture(scope="module")
def browser():
    need_browser()
    profile = tempfile.mkdtemp(prefix="seald-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    # as root in a container: no sandbox, no /dev/shm reliance
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
              "--disable-gpu", "--window-size=1280,1000",
              "--user-data-dir=" + profile, "--lang=zh-CN",
              "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"):
        opts.add_argument(a)
    # the instance's certificate is its own, self-signed one
    opts.set_capability("acceptInsecureCerts", True)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    d.set_page_load_timeout(WAIT_S)
    yield d
    d.quit()
    shutil.rmtree(profile, ignore_errors=True)


def file_path(w, spec):
    """A file to upload: (dir, name) in the vectors, or (name, bytes)
    written to the module's upload directory."""
    a, b = spec
    if isinstance(b, bytes):
        p = os.path.join(str(w.files), a)
        with open(p, "wb") as f:
            f.write(b)
        return p
    p = os.path.join(VECTORS, a, b)
    assert os.path.exists(p), p + " missing (tests/vectors is part of the "\
        "checkout)"
    return p


INPUT = {"ofd": "ofd-file", "signature": "sig-file", "document": "doc-file",
         "seal": "seal-file"}


def upload(w, d, kind, files):
    """Open /verify, choose kind, give each slot its file through the
    page's file inputs, press Verify and wait for the outcome.  Returns the
    overall indication shown; fails with the page's error text if it shows
    one instead."""
    d.get(w.inst.url("/verify"))
    d.find_element(By.CSS_SELECTOR,
                   f"input[name=kind][value={kind}]").click()
    for slot, spec in files.items():
        d.find_element(By.ID, INPUT[slot]).send_keys(file_path(w, spec))
    d.find_element(By.ID, "go").click()
    WebDriverWait(d, WAIT_S).until(lambda d: d.execute_script(
        "var e = document.getElementById('error');"
        "return document.getElementById('result').getAttribute("
        "'data-indication') || (!e.hidden && e.textContent);"))
    err = d.find_element(By.ID, "error")
    assert not err.is_displayed(), "the page shows an error: " + err.text
    return d.find_element(By.ID, "result").get_attribute("data-indication")


def shown_checks(d, card=0):
    """{scope.check: status} as the n-th seal's lists show them."""
    return d.execute_script(
        "var c = document.querySelectorAll('#result .seal')[arguments[0]];"
        "var o = {};"
        "c.querySelectorAll('ul.checks li').forEach(function (li) {"
        "  o[li.parentNode.getAttribute('data-scope') + '.' +"
        "    li.getAttribute('data-check')] = li.getAttribute('data-status');"
        "});"
        "return o;", card)


def screenshot(d, name):
    """The whole page as ARTEFACTS/name.png (the window is made as tall as
    the page for it); asserts the file is a PNG."""
    os.makedirs(ARTEFACTS, exist_ok=True)
    path = os.path.join(ARTEFACTS, name + ".png")
    shot = d.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True})
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", path
    assert os.path.getsize(path) > 1000, path
    return path


def csp_violations(d):
    return [e["message"] for e in d.get_log("browser")
            if "Content Security Policy" in e["message"] or
            "Refused to" in e["message"]]


@pytest.mark.parametrize("name,kind,files,indication,checks",
                         VECTOR_OUTCOMES, ids=[v[0] for v in VECTOR_OUTCOMES])
def test_vector_outcome_shown(world, browser, name, kind, files, indication,
                              checks):
    shown = upload(world, browser, kind, files)
    if indication is not None:
        assert shown == indication, name
    else:
        assert shown in ("TOTAL_PASSED", "TOTAL_FAILED", "INDETERMINATE")
    got = shown_checks(browser)
    for check, status in checks.items():
        assert got.get(check) == status, (name, check, got)
    # each seal's outcome in plain words, naming what failed
    plain = browser.find_element(By.CSS_SELECTOR, "#result .seal .plain")
    assert plain.find_element(By.CSS_SELECTOR, "[lang=zh-CN]").text
    assert plain.find_element(By.CSS_SELECTOR, "[lang=en]").text
    if "seal.seal_signature" in checks and \
            checks["seal.seal_signature"] == "failed":
        assert "Seal maker's signature" in plain.text
        assert "印章的制章签名" in plain.text
    # the banner says it in both languages
    banner = browser.find_element(By.ID, "outcome")
    assert banner.get_attribute("data-indication") == shown
    assert banner.find_elements(By.CSS_SELECTOR, "[lang=zh-CN]")
    assert banner.find_elements(By.CSS_SELECTOR, "[lang=en]")
    screenshot(browser, "vector-" + name)
    assert csp_violations(browser) == []


def sealed_ofd(w):
    """An OFD sealed here at page 1 (x 120, y 230 mm) with a new seal."""
    esid = w.new_active_seal(seal_name="页面验证专用章")
    req = submit(w, [doc("notice.ofd", ofd(2))], esid=esid)
    approve(w, req["id"])
    out = seal_ofd(w, req["id"], req["documents"][0]["id"],
                   {"mode": "page", "page": 0, "x": 120, "y": 230})
    return esid, base64.b64decode(out["ofd"])


def tamper(pkg):
    """pkg with one byte more in its first page's content."""
    src = zipfile.ZipFile(io.BytesIO(pkg))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("Pages/Page_0/Content.xml"):
                data = data.replace(b"</", b" </", 1)
            out.writestr(info, data)
    assert buf.getvalue() != pkg
    return buf.getvalue()


@pytest.fixture(scope="module")
def made(world):
    return sealed_ofd(world)


def test_seal_made_here_on_an_ofd(world, browser, made):
    esid, pkg = made
    shown = upload(world, browser, "ofd", {"ofd": ("sealed.ofd", pkg)})
    assert shown == "TOTAL_PASSED", shown_checks(browser)
    card = browser.find_element(By.CSS_SELECTOR, "#result .seal")
    assert card.find_element(By.CSS_SELECTOR, ".seal-name").text == \
        "页面验证专用章"
    assert card.find_element(By.CSS_SELECTOR, "dd.esid").text == esid
    # its picture is shown (decoded by the browser, not a broken image)
    img = card.find_element(By.CSS_SELECTOR, "img.picture")
    assert browser.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth", img) > 0
    # page 1, and the box drawn on the page's outline at scale: the SVG's
    # user units are the report's millimetres
    where = card.find_element(By.CSS_SELECTOR, ".where")
    assert where.get_attribute("data-page") == "1"
    box = card.find_element(By.CSS_SELECTOR, "svg.outline rect.box")
    paper = card.find_element(By.CSS_SELECTOR, "svg.outline rect.paper")
    assert float(box.get_attribute("x")) == 120
    assert float(box.get_attribute("y")) == 230
    assert float(paper.get_attribute("width")) > 120
    assert float(paper.get_attribute("height")) > 230
    # status then and now, signer, issuer, time
    assert card.find_element(By.CSS_SELECTOR, "dd.then").text
    assert "active" in card.find_element(By.CSS_SELECTOR, "dd.now").text
    for cls in ("issuer", "signer", "when", "kind", "timestamp"):
        assert card.find_element(By.CSS_SELECTOR, "dd." + cls).text, cls
    assert "is valid" in card.find_element(By.CSS_SELECTOR, ".plain").text
    checks = shown_checks(browser)
    assert checks["seal.seal_status"] == "passed"
    assert checks["package.references"] == "passed"
    screenshot(browser, "sealed-here-ofd")
    assert csp_violations(browser) == []


def test_tampered_ofd_shows_the_failure(world, browser, made):
    _, pkg = made
    shown = upload(world, browser, "ofd",
                   {"ofd": ("tampered.ofd", tamper(pkg))})
    assert shown == "TOTAL_FAILED"
    assert shown_checks(browser)["package.references"] == "failed"
    card = browser.find_element(By.CSS_SELECTOR, "#result .seal")
    assert card.get_attribute("data-indication") == "TOTAL_FAILED"
    screenshot(browser, "tampered-ofd")


def test_signature_made_here_with_its_document(world, browser):
    w = world
    esid = w.new_active_seal(seal_name="页面验证签名章")
    text = "关于页面验证的函\n".encode() * 20
    req = submit(w, [doc("letter.txt", text)], esid=esid)
    approve(w, req["id"])
    (res,) = sign(w, req["id"])["results"]
    assert res["status"] == "signed", res
    files = {"signature": ("letter.txt.sig", base64.b64decode(
        res["signature"])), "document": ("letter.txt", text)}
    shown = upload(w, browser, "signature", files)
    assert shown == "TOTAL_PASSED", shown_checks(browser)
    card = browser.find_element(By.CSS_SELECTOR, "#result .seal")
    assert card.find_element(By.CSS_SELECTOR, ".seal-name").text == \
        "页面验证签名章"
    assert card.find_element(By.CSS_SELECTOR, "dd.esid").text == esid
    assert shown_checks(browser)["seal.data_hash"] == "passed"
    # the seal's picture comes in the signature's report ("pictures")
    img = card.find_element(By.CSS_SELECTOR, "img.picture")
    assert browser.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth", img) > 0
    screenshot(browser, "signature-made-here")
    # the same signature over another document: the failure, in words
    files["document"] = ("other.txt", text + b"x")
    assert upload(w, browser, "signature", files) == "TOTAL_FAILED"
    sub = browser.find_element(By.CSS_SELECTOR, "#outcome .sub")
    assert "changed" in sub.text and "修改" in sub.text
    screenshot(browser, "signature-wrong-document")


def test_dropped_files_are_verified(world, browser):
    """Dropping the signature and its document together (in any order) on
    the drop zone picks the kind and the slots, and verifies at once."""
    w = world
    sig = open(os.path.join(VECTORS, SIG, "v4signed-Sign_0.SignedValue.dat"),
               "rb").read()
    xml = open(os.path.join(VECTORS, SIG, "v4signed-Sign_0.Signature.xml"),
               "rb").read()
    browser.get(w.inst.url("/verify"))
    browser.execute_script(
        "function file(b64, name) {"
        "  var s = atob(b64), a = new Uint8Array(s.length);"
        "  for (var i = 0; i < s.length; i++) a[i] = s.charCodeAt(i);"
        "  return new File([a], name); }"
        "var dt = new DataTransfer();"
        "dt.items.add(file(arguments[1], 'Signature.xml'));"
        "dt.items.add(file(arguments[0], 'SignedValue.dat'));"
        "document.getElementById('drop').dispatchEvent(new DragEvent('drop',"
        "  {dataTransfer: dt, bubbles: true, cancelable: true}));",
        base64.b64encode(sig).decode(), base64.b64encode(xml).decode())
    WebDriverWait(browser, WAIT_S).until(lambda d: d.find_element(
        By.ID, "result").get_attribute("data-indication"))
    assert browser.find_element(
        By.CSS_SELECTOR, "input[name=kind][value=signature]").is_selected()
    assert shown_checks(browser)["seal.data_hash"] == "passed"


def test_usable_at_a_phone_width(world, browser, made):
    _, pkg = made
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 375, "height": 800, "deviceScaleFactor": 2, "mobile": True})
    try:
        browser.get(world.inst.url("/verify"))
        assert browser.execute_script("return window.innerWidth") == 375
        assert browser.execute_script(
            "return document.documentElement.scrollWidth <= innerWidth")
        screenshot(browser, "phone-empty")
        shown = upload(world, browser, "ofd", {"ofd": ("sealed.ofd", pkg)})
        assert shown == "TOTAL_PASSED"
        assert browser.execute_script(
            "return document.documentElement.scrollWidth <= innerWidth"), \
            browser.execute_script(
                "return document.documentElement.scrollWidth")
        # the outcome is on screen (the page scrolled to it; sub-pixel
        # rounding aside), and the drawn page fits
        assert browser.execute_script(
            "var r = document.getElementById('outcome')"
            ".getBoundingClientRect();"
            "return r.top > -1 && r.top < innerHeight && r.right <= "
            "innerWidth && r.height > 0"), browser.execute_script(
            "var r = document.getElementById('outcome')"
            ".getBoundingClientRect(); return [r.top, r.right, r.height, "
            "innerWidth, innerHeight, scrollY]")
        assert browser.execute_script(
            "var r = document.querySelector('svg.outline')"
            ".getBoundingClientRect(); return r.right <= innerWidth")
        screenshot(browser, "phone-sealed-ofd")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_accessible_controls(world, browser):
    """Every file input has its label; the drop zone is reachable with the
    keyboard and says what it does."""
    browser.get(world.inst.url("/verify"))
    for i in INPUT.values():
        assert browser.find_elements(By.CSS_SELECTOR, f"label[for='{i}']"), i
    drop = browser.find_element(By.ID, "drop")
    assert drop.get_attribute("tabindex") == "0"
    assert drop.get_attribute("role") == "button"
    assert drop.get_attribute("aria-describedby")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute(
        "lang") == "zh-CN"
    # Enter on the focused drop zone opens the first missing file's chooser
    # (the click is caught here, so no dialog opens)
    browser.execute_script(
        "window.picked = null;"
        "document.getElementById('ofd-file').addEventListener('click',"
        "  function (ev) { window.picked = 'ofd'; ev.preventDefault(); });")
    drop.send_keys(Keys.ENTER)
    assert browser.switch_to.active_element == drop
    assert browser.execute_script("return window.picked") == "ofd"
    # Verify with nothing chosen: a message in both languages, no request
    browser.find_element(By.ID, "go").click()
    err = browser.find_element(By.ID, "error")
    assert err.is_displayed() and "OFD" in err.text
    assert err.find_elements(By.CSS_SELECTOR, "[lang=en]")


def test_page_loads_nothing_from_elsewhere(world, browser, made):
    """After a verification, every resource the page fetched and the
    navigation itself are this origin's."""
    _, pkg = made
    upload(world, browser, "ofd", {"ofd": ("sealed.ofd", pkg)})
    origin = world.inst.url("")
    names = browser.execute_script(
        "return performance.getEntriesByType('navigation')"
        ".concat(performance.getEntriesByType('resource'))"
        ".map(function (e) { return e.name; });")
    assert any(n.endswith("/verify.js") for n in names), names
    assert any(n.endswith("/public/verify") for n in names), names
    assert [n for n in names if not n.startswith(origin + "/")] == []
    assert csp_violations(browser) == []


def test_landing_page_links_to_verify(world, browser):
    browser.get(world.inst.url("/"))
    link = browser.find_element(By.ID, "to-verify")
    link.click()
    WebDriverWait(browser, WAIT_S).until(
        lambda d: d.current_url.endswith("/verify"))
    assert browser.find_element(By.ID, "drop")
    screenshot(browser, "landing-then-verify")


@pytest.mark.parametrize("path,ctype", [
    ("/", "text/html; charset=utf-8"),
    ("/verify", "text/html; charset=utf-8"),
    ("/verify.js", "text/javascript; charset=utf-8"),
    ("/verify.css", "text/css; charset=utf-8"),
])
def test_served_files_headers(world, path, ctype):
    r = world.inst.get(path)
    assert r.status_code == 200
    check_response(path, "get", r)
    documented = resolve(spec()["paths"][path]["get"]["responses"]["200"])
    assert ctype.split(";")[0] in documented["content"]
    for h in documented["headers"]:
        assert h in r.headers, h
    assert r.headers["Content-Type"] == ctype
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    # no inline script in the HTML, and nothing named on another origin
    if ctype.startswith("text/html"):
        assert b"<script>" not in r.content and b"on" + b"click=" not in \
            r.content
        assert b"http://" not in r.content and b"https://" not in r.content
    etag = r.headers["ETag"]
    again = world.inst.get(path, headers={"If-None-Match": etag})
    check_response(path, "get", again)
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == etag


def upload_error(w, d, kind, files):
    """As upload, for a page that shows an error instead: its text."""
    d.get(w.inst.url("/verify"))
    for slot, spec in files.items():
        d.find_element(By.ID, INPUT[slot]).send_keys(file_path(w, spec))
    d.find_element(By.ID, "go").click()
    WebDriverWait(d, WAIT_S).until(
        lambda d: d.find_element(By.ID, "error").is_displayed())
    assert d.find_element(By.ID, "result").get_attribute(
        "data-indication") in (None, "")
    return d.find_element(By.ID, "error").text


def test_switched_off(world, browser, tmp_path):
    """[public] verify = no: the page says public verification is off here;
    [public] verify_page = no: the page and / are not there (404)."""
    inst = Instance(tmp_path / "off")
    inst.start("--set", "public.verify=no")
    try:
        class W:
            pass
        w = W()
        w.inst, w.files = inst, world.files
        text = upload_error(w, browser, "ofd",
                            {"ofd": ("ofd", "v4signed.ofd")})
        assert "switched off" in text and "未开放" in text, text
        screenshot(browser, "public-verify-off")
    finally:
        rc, _, err = inst.stop()
    assert rc == 0, err
    inst.start("--set", "public.verify_page=no")
    try:
        for path in ("/", "/verify", "/verify.js", "/verify.css"):
            r = inst.get(path)
            assert r.status_code == 404, path
            check_response(path, "get", r)
    finally:
        rc, _, err = inst.stop()
    assert rc == 0, err
