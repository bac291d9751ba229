"""End-to-end tests of `seald verify-ofd` and of OFDs sealed by seald.

The sealed files come from the cmocka binary test_ofd (run here with
SEALD_OFD_OUT_ONLY=1 into a private directory): a minimal OFD built in the
test, sealed once (sealed.ofd) and twice (sealed2.ofd) with a software SM2
key.  Their references, dataHash and SM2 signature value are checked outside
seald: python's zipfile unpacks, `openssl dgst -sm3` hashes, and
`openssl pkeyutl` verifies the SES signature over the TBS_Sign DER taken out
with `openssl asn1parse`.  Vectors are read from $SEALD_VECTORS, never copied;
hostile packages are built here.
"""
import base64
import io
import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
import zipfile

import pytest

SEALD = os.environ.get("SEALD_BIN", "seald")
BUILD = os.environ.get("SEALD_BUILD_DIR", "")
VECTORS = os.environ.get("SEALD_VECTORS", "")
DISTID = "distid:1234567812345678"
NS = "{http://www.ofdspec.org/2016}"


def run(*args):
    return subprocess.run([SEALD, *args], capture_output=True, timeout=120)


def verify(path, *extra):
    p = run("verify-ofd", str(path), *extra)
    assert p.returncode in (0, 1, 2), (p.returncode, p.stderr)
    return json.loads(p.stdout), p.returncode


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    out = tmp_path_factory.mktemp("ofd-out")
    exe = None
    for rel in ("tests/test_ofd", "test_ofd"):
        cand = os.path.join(BUILD, rel)
        if BUILD and os.access(cand, os.X_OK):
            exe = cand
            break
    if exe is None:
        pytest.fail("no test_ofd binary" + " (scripts/test installs everything; a missing part is a failure, not a skip)")
    env = dict(os.environ, SEALD_OFD_OUT=str(out), SEALD_OFD_OUT_ONLY="1")
    subprocess.run([exe], env=env, check=True, capture_output=True,
                   timeout=300)
    trust = out / "trust"
    trust.mkdir()
    (trust / "anchor.pem").write_bytes((out / "cert.pem").read_bytes())
    return out


def sm3_b64(data, tmp_path):
    f = tmp_path / "h.bin"
    f.write_bytes(data)
    p = subprocess.run(["openssl", "dgst", "-sm3", "-binary", str(f)],
                       capture_output=True, check=True)
    return base64.b64encode(p.stdout).decode()


def asn1_top(path):
    p = subprocess.run(["openssl", "asn1parse", "-inform", "DER", "-in",
                        str(path)], capture_output=True, text=True, check=True)
    items = []
    for line in p.stdout.splitlines():
        m = re.match(r"\s*(\d+):d=1\s+hl=\s*\d+\s+l=\s*\d+\s+\w+:\s*(\S+)",
                     line)
        if m:
            items.append((int(m.group(1)), m.group(2)))
    return items


def extract(path, offset, out):
    subprocess.run(["openssl", "asn1parse", "-inform", "DER", "-in", str(path),
                    "-strparse", str(offset), "-noout", "-out", str(out)],
                   check=True, capture_output=True)


def openssl_verify(pub, data, sig):
    p = subprocess.run(["openssl", "pkeyutl", "-verify", "-rawin", "-digest",
                        "sm3", "-pubin", "-inkey", str(pub), "-pkeyopt",
                        DISTID, "-in", str(data), "-sigfile", str(sig)],
                       capture_output=True, text=True)
    return p.returncode == 0 and "Verified Successfully" in p.stdout


def check_outside(z, sign_dir, pub, tmp_path):
    """References, dataHash, propertyInfo and SM2 value, without seald."""
    sig_xml = z.read(sign_dir + "Signature.xml")
    root = ET.fromstring(sig_xml)
    refs = root.find(NS + "SignedInfo").find(NS + "References")
    assert refs.get("CheckMethod") == "1.2.156.10197.1.401"
    files = []
    for ref in refs.findall(NS + "Reference"):
        name = ref.get("FileRef")
        assert name.startswith("/")
        want = ref.find(NS + "CheckValue").text
        assert sm3_b64(z.read(name[1:]), tmp_path) == want, name
        files.append(name)
    assert "/OFD.xml" in files and "/" + sign_dir + "Seal.esl" in files
    assert not any(f.endswith("Signatures.xml") for f in files)
    assert root.find(NS + "SignedValue").text == "/" + sign_dir + \
        "SignedValue.dat"
    sv = tmp_path / "sv.dat"
    sv.write_bytes(z.read(sign_dir + "SignedValue.dat"))
    top = asn1_top(sv)
    # v4 SES_Signature: TBS_Sign, cert, signatureAlgorithm, signature
    assert [k for _, k in top][:4] == ["SEQUENCE", "OCTET", "OBJECT", "BIT"]
    extract(sv, top[0][0], tmp_path / "tbs.der")
    extract(sv, top[3][0], tmp_path / "sig.der")
    tbs = (tmp_path / "tbs.der").read_bytes()
    digest = base64.b64decode(sm3_b64(sig_xml, tmp_path))
    assert digest in tbs                      # dataHash = SM3(Signature.xml)
    assert ("/" + sign_dir + "Signature.xml").encode() in tbs  # propertyInfo
    assert openssl_verify(pub, tmp_path / "tbs.der", tmp_path / "sig.der")
    bad = bytearray(tbs)
    bad[-5] ^= 1
    (tmp_path / "tbs-bad.der").write_bytes(bytes(bad))
    assert not openssl_verify(pub, tmp_path / "tbs-bad.der",
                              tmp_path / "sig.der")


def test_sealed_verifies_in_seald(made):
    j, rc = verify(made / "sealed.ofd", "--trust", str(made / "trust"))
    # every check passes; this seal comes from no instance, so its status
    # is not checked and the file is not TOTAL_PASSED (issue 17 item 5)
    assert rc == 2, j
    assert j["indication"] == "INDETERMINATE" and j["summary"] == \
        "indeterminate" and j["sub_indication"] == "TRY_LATER"
    s = j["signatures"][0]
    assert s["ses"]["checks"]["seal_status"]["status"] == "not_checked"
    assert s["path"] == "Doc_0/Signs/Sign_0/Signature.xml"
    assert s["checks"]["references"]["status"] == "passed"
    for c in ("signature", "seal_signature", "data_hash", "certificate_chain"):
        assert s["ses"]["checks"][c]["status"] == "passed", c
    assert s["stamps"][0]["page_index"] == 2
    assert s["stamps"][0]["boundary_mm"] == [50, 60.5, 40, 40]
    assert s["picture"]["type"] == "PNG" and "data_base64" not in s["picture"]
    j, rc = verify(made / "sealed.ofd", "--pictures")
    assert rc == 2 and j["summary"] == "indeterminate"
    pic = base64.b64decode(j["signatures"][0]["picture"]["data_base64"])
    assert pic.startswith(b"\x89PNG")


def test_sealed_checks_out_with_openssl(made, tmp_path):
    z = zipfile.ZipFile(made / "sealed.ofd")
    check_outside(z, "Doc_0/Signs/Sign_0/", made / "pub.pem", tmp_path)
    ofd = ET.fromstring(z.read("OFD.xml"))
    assert ofd.find(NS + "DocBody").find(NS + "Signatures").text == \
        "Doc_0/Signs/Signatures.xml"


def test_untouched_entries_keep_their_bytes(made):
    plain = zipfile.ZipFile(made / "plain.ofd")
    sealed = zipfile.ZipFile(made / "sealed.ofd")
    for info in plain.infolist():
        if info.filename == "OFD.xml":
            continue
        other = sealed.getinfo(info.filename)
        assert sealed.read(info.filename) == plain.read(info.filename)
        assert (other.CRC, other.compress_size, other.compress_type) == \
            (info.CRC, info.compress_size, info.compress_type)


def test_second_seal_keeps_first_valid(made, tmp_path):
    j, rc = verify(made / "sealed2.ofd", "--trust", str(made / "trust"))
    assert rc == 2, j                 # status not checked (no instance)
    assert [(s["indication"], s["sub_indication"]) for s in
            j["signatures"]] == [("INDETERMINATE", "TRY_LATER")] * 2
    assert [s["ses"]["checks"]["data_hash"]
            ["status"] for s in j["signatures"]] == ["passed"] * 2
    one = zipfile.ZipFile(made / "sealed.ofd")
    two = zipfile.ZipFile(made / "sealed2.ofd")
    for name in one.namelist():
        if not name.endswith("Signatures.xml"):
            assert two.read(name) == one.read(name), name
    check_outside(two, "Doc_0/Signs/Sign_0/", made / "pub.pem", tmp_path)
    check_outside(two, "Doc_0/Signs/Sign_1/", made / "pub.pem", tmp_path)
    sigs = ET.fromstring(two.read("Doc_0/Signs/Signatures.xml"))
    assert [s.get("BaseLoc") for s in sigs.findall(NS + "Signature")] == [
        "/Doc_0/Signs/Sign_0/Signature.xml", "/Doc_0/Signs/Sign_1/Signature.xml"]


def test_tampered_page_fails(made, tmp_path):
    src = zipfile.ZipFile(made / "sealed.ofd")
    out = tmp_path / "tampered.ofd"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "Doc_0/Pages/Page_0/Content.xml":
                data = data.replace(b"body text", b"BODY TEXT")
            z.writestr(info.filename, data)
    j, rc = verify(out, "--trust", str(made / "trust"))
    assert rc == 1 and j["summary"] == "some failed"
    s = j["signatures"][0]
    assert s["failed_references"] == ["/Doc_0/Pages/Page_0/Content.xml"]
    assert s["sub_indication"] == "HASH_FAILURE"


VECTORS_OFD = [
    ("v4signed.ofd", 2, {"references": "passed"},
     {"signature": "passed", "seal_signature": "passed", "data_hash": "passed"}),
    ("signedFile.ofd", 2, {"references": "passed"},
     {"signature": "passed", "seal_signature": "passed", "data_hash": "passed"}),
    ("allprotected.ofd", 2, {"references": "passed", "seal_file": "passed"},
     {"signature": "passed", "seal_signature": "passed", "data_hash": "passed"}),
    ("DigitalSign.ofd", 2, {"references": "passed",
                            "signature": "indeterminate"}, None),
    ("v1-dms360.ofd", 1, {"references": "failed"},
     {"signature": "failed", "seal_signature": "passed", "data_hash": "failed"}),
    ("keyword-edited.ofd", 1, {"references": "failed"},
     {"signature": "passed", "seal_signature": "passed", "data_hash": "passed"}),
]


@pytest.mark.parametrize("name,code,checks,ses", VECTORS_OFD)
def test_vectors(name, code, checks, ses):
    path = os.path.join(VECTORS, "ofd", name)
    if not os.path.exists(path):
        pytest.fail("vectors not available" + " (scripts/test installs everything; a missing part is a failure, not a skip)")
    j, rc = verify(path)
    assert rc == code, j
    s = j["signatures"][0]
    for c, st in checks.items():
        assert s["checks"][c]["status"] == st, (c, s["checks"])
    if ses is None:
        assert s["type"] == "Sign" and s["signed_value_kind"] == "sm2_signature"
    else:
        for c, st in ses.items():
            assert s["ses"]["checks"][c]["status"] == st, (c, s["ses"])
    if name == "keyword-edited.ofd":
        assert len(s["failed_references"]) == 3
        assert j["signatures"][1]["signed_value_kind"] == \
            "gbt35275_signed_data"


def zip_bytes(entries, method=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name), data,
                       compress_type=method)
    return buf.getvalue()


OFD_XML = (b'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD '
           b'xmlns:ofd="http://www.ofdspec.org/2016"><ofd:DocBody><ofd:DocRoot>'
           b'Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>')
BOMB_XML = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016">&b;</ofd:OFD>')

HOSTILE = [
    ("zip bomb", [("OFD.xml", OFD_XML), ("Doc_0/z.bin", b"\0" * (16 << 20))],
     "payload_too_large"),
    ("traversal", [("OFD.xml", OFD_XML), ("../../tmp/evil", b"x")],
     "malformed_input"),
    ("absolute", [("OFD.xml", OFD_XML), ("/etc/passwd", b"x")],
     "malformed_input"),
    ("entity bomb", [("OFD.xml", BOMB_XML)], "malformed_input"),
    ("no OFD.xml", [("Doc_0/Document.xml", b"<a/>")], "malformed_input"),
    ("no Document.xml", [("OFD.xml", OFD_XML)], "malformed_input"),
]


@pytest.mark.parametrize("what,entries,code", HOSTILE,
                         ids=[h[0] for h in HOSTILE])
def test_hostile_packages(what, entries, code, tmp_path):
    f = tmp_path / "hostile.ofd"
    f.write_bytes(zip_bytes(entries))
    p = run("verify-ofd", str(f))
    assert p.returncode == 1, (p.returncode, p.stderr)
    j = json.loads(p.stdout)
    assert j["sub_indication"] == "FORMAT_FAILURE"
    assert j["error"]["code"] == code, j
    assert b"refused" in p.stderr


def test_usage_and_io(tmp_path):
    assert run("verify-ofd").returncode == 64       # usage
    assert run("verify-ofd", "--bogus", "x").returncode == 64
    assert run("verify-ofd", str(tmp_path / "missing.ofd")).returncode == 3
    junk = tmp_path / "junk.ofd"
    junk.write_bytes(b"not a zip at all, just text" * 10)
    j, rc = verify(junk)
    assert rc == 1 and j["error"]["code"] == "malformed_input"


def test_gbt35275_page_changed_after_signing(tmp_path):
    """Issue 14 item 12: an OFD Type="Sign" signature (detached GB/T 35275
    SignedData with signed attributes) whose page was changed after signing
    and whose CheckValues were rewritten fails the document binding; the
    genuine one passes it (chain indeterminate: the ofdrw root is not
    trusted)."""
    from gbt35275 import edit_page, sign_ofd
    good, _, sv = sign_ofd()
    bad, _, _ = sign_ofd(edit_page, sv)
    (tmp_path / "good.ofd").write_bytes(good)
    (tmp_path / "bad.ofd").write_bytes(bad)
    j, rc = verify(tmp_path / "bad.ofd")
    s = j["signatures"][0]
    assert s["checks"]["references"]["status"] == "passed", s
    assert rc == 1 and s["sub_indication"] == "HASH_FAILURE", s
    assert s["signed_data"]["checks"]["signature"]["status"] == "passed", s
    assert s["signed_data"]["checks"]["data_hash"]["status"] == "failed", s
    j, rc = verify(tmp_path / "good.ofd")
    s = j["signatures"][0]
    assert s["checks"]["references"]["status"] == "passed", s
    assert s["signed_data"]["checks"]["data_hash"]["status"] == "passed", s
    assert rc == 2 and s["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
