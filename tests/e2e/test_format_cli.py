"""End-to-end tests of `seald inspect` and `seald verify-file`.

A seal and a signature made with a software key come from the cmocka test
binary test_ses (run here with SEALD_FORMAT_OUT_ONLY=1 into a private
directory, so nothing depends on ctest ordering).  The SM2 values in them are
checked independently with the openssl CLI over DER extracted with
`openssl asn1parse`.  Vectors are read from $SEALD_VECTORS, never copied.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess

import pytest

SEALD = os.environ.get("SEALD_BIN", "seald")
BUILD = os.environ.get("SEALD_BUILD_DIR", "")
VECTORS = os.environ.get("SEALD_VECTORS", "")
DISTID = "distid:1234567812345678"


def run(*args, check=None):
    p = subprocess.run([SEALD, *args], capture_output=True, timeout=120)
    if check is not None:
        assert p.returncode == check, (p.returncode, p.stdout, p.stderr)
    return p


def report(*args, code=None):
    p = run(*args, check=code)
    return json.loads(p.stdout), p.returncode


@pytest.fixture(autouse=True, scope="module")
def subcommands_wired():
    """Fail clearly (not obscurely) if main.c does not route the commands."""
    p = subprocess.run([SEALD, "inspect"], capture_output=True, timeout=60)
    assert b"usage: seald inspect" in p.stderr, (
        "seald does not route 'inspect' to cmd_inspect(): %r" % p.stderr)


def find_test_ses():
    for rel in ("tests/test_ses", "test_ses"):
        cand = os.path.join(BUILD, rel)
        if BUILD and os.access(cand, os.X_OK):
            return cand
    return None


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    out = tmp_path_factory.mktemp("format-out")
    exe = find_test_ses()
    if exe is not None:
        env = dict(os.environ, SEALD_FORMAT_OUT=str(out),
                   SEALD_FORMAT_OUT_ONLY="1")
        subprocess.run([exe], env=env, check=True, capture_output=True,
                       timeout=300)
    else:
        src = os.path.join(BUILD, "format-out")
        if not os.path.exists(os.path.join(src, "sig.dat")):
            pytest.fail("no test_ses binary and no format-out directory" + " (scripts/test installs everything; a missing part is a failure, not a skip)")
        for f in os.listdir(src):
            shutil.copy(os.path.join(src, f), out / f)
    trust = out / "trust"
    trust.mkdir()
    shutil.copy(out / "cert.pem", trust / "anchor.pem")
    return out


def asn1_top(path):
    """Offsets and kinds of the depth-1 elements of a DER file."""
    p = subprocess.run(["openssl", "asn1parse", "-inform", "DER", "-in",
                        str(path)], capture_output=True, text=True, check=True)
    items = []
    for line in p.stdout.splitlines():
        m = re.match(r"\s*(\d+):d=1\s+hl=\s*\d+\s+l=\s*\d+\s+\w+:\s*(\S+( \S+)?)",
                     line)
        if m:
            items.append((int(m.group(1)), m.group(2).strip()))
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


def test_openssl_verifies_seal_and_signature(made, tmp_path):
    # seal: first element (SES_SealInfo) and the BIT STRING
    top = asn1_top(made / "seal.esl")
    assert [k for _, k in top][:4] == ["SEQUENCE", "OCTET STRING", "OBJECT",
                                       "BIT STRING"]
    extract(made / "seal.esl", top[0][0], tmp_path / "sealinfo.der")
    extract(made / "seal.esl", top[3][0], tmp_path / "sealsig.der")
    assert openssl_verify(made / "pub.pem", tmp_path / "sealinfo.der",
                          tmp_path / "sealsig.der")
    # signature: TBS_Sign and its BIT STRING
    top = asn1_top(made / "sig.dat")
    extract(made / "sig.dat", top[0][0], tmp_path / "tbs.der")
    extract(made / "sig.dat", top[3][0], tmp_path / "sig.der")
    assert openssl_verify(made / "pub.pem", tmp_path / "tbs.der",
                          tmp_path / "sig.der")
    # and a tampered TBS does not verify
    tbs = bytearray((tmp_path / "tbs.der").read_bytes())
    tbs[-3] ^= 1
    (tmp_path / "tbs-bad.der").write_bytes(bytes(tbs))
    assert not openssl_verify(made / "pub.pem", tmp_path / "tbs-bad.der",
                              tmp_path / "sig.der")


def test_inspect_seal_and_picture(made, tmp_path):
    pic = tmp_path / "out.png"
    j, _ = report("inspect", "--picture", str(pic), str(made / "seal.esl"),
                  code=0)
    assert j["kind"] == "seal" and j["format"] == "v4"
    assert j["version"] == 4 and j["es_id"] == "11010000000001"
    assert j["name"] == "seald test seal"
    assert j["picture"]["type"] == "PNG" and j["picture"]["size"] == 100
    assert j["certificates"][0]["subject"] == "CN=seald test signer"
    assert {"issuer", "serial", "not_before", "not_after"} <= set(
        j["certificates"][0])
    assert [x["critical"] for x in j["extensions"]] == [False, True]
    data = pic.read_bytes()
    assert len(data) == 100 and data.startswith(b"\x89PNG")


def test_inspect_signature(made):
    j, _ = report("inspect", str(made / "sig.dat"), code=0)
    assert j["kind"] == "signature" and j["version"] == 4
    assert j["property_info"] == "/Doc_0/Signs/Sign_0/Signature.xml"
    assert j["seal"]["name"] == "seald test seal"


def test_verify_passed(made):
    j, rc = report("verify-file", "--signature", str(made / "sig.dat"),
                   "--data", str(made / "doc.bin"), "--trust",
                   str(made / "trust"))
    # every check passes, but this seal's status has no source (it comes
    # from no instance and no status list): never a silent TOTAL_PASSED
    assert rc == 2, j
    assert (j["indication"], j["sub_indication"]) == ("INDETERMINATE",
                                                      "TRY_LATER")
    assert j["checks"]["seal_status"]["status"] == "not_checked"
    assert "status not checked" in j["checks"]["seal_status"]["reason"]
    assert j["validation_time_source"] == "tbs_time_info"
    for c in ("signature", "seal_signature", "data_hash", "signer_in_seal",
              "certificate_chain", "seal_validity"):
        assert j["checks"][c]["status"] == "passed", c


def test_verify_not_yet_valid_names_the_certificate_dates(made):
    """A signature whose timeInfo is before its signer certificate's
    notBefore (sig-early.dat from test_ses: timeInfo 40 days ago, the
    certificate valid from 30 days ago) is TOTAL_FAILED/NOT_YET_VALID, not
    OUT_OF_BOUNDS_NO_POE, and the message names the certificate's own
    notBefore and notAfter, not only the validation time."""
    j, rc = report("verify-file", "--signature", str(made / "sig-early.dat"),
                   "--data", str(made / "doc.bin"), "--trust",
                   str(made / "trust"))
    assert rc == 1, j
    assert (j["indication"], j["sub_indication"]) == ("TOTAL_FAILED",
                                                      "NOT_YET_VALID")
    c = j["checks"]["signer_certificate_validity"]
    assert c["status"] == "failed" and c["window"] == "not_yet_valid"
    dates = subprocess.run(["openssl", "x509", "-in", str(made / "cert.pem"),
                            "-noout", "-startdate", "-enddate",
                            "-dateopt", "iso_8601"], capture_output=True,
                           text=True, check=True).stdout
    nb, na = [line.split("=", 1)[1].strip().replace(" ", "T")
              for line in dates.splitlines()[:2]]
    assert f"{nb} (notBefore)" in c["reason"], (nb, c["reason"])
    assert f"{na} (notAfter)" in c["reason"], (na, c["reason"])
    assert j["validation_time"] in c["reason"]


def test_verify_by_hash(made):
    digest = subprocess.run(["openssl", "dgst", "-sm3", "-r",
                             str(made / "doc.bin")], capture_output=True,
                            text=True, check=True).stdout.split()[0]
    j, rc = report("verify-file", "--signature", str(made / "sig.dat"),
                   "--hash", digest, "--trust", str(made / "trust"))
    assert rc == 2 and j["checks"]["data_hash"]["status"] == "passed"
    assert j["sub_indication"] == "TRY_LATER"     # status not checked
    j, rc = report("verify-file", "--signature", str(made / "sig.dat"),
                   "--hash", "00" * 32, "--trust", str(made / "trust"))
    assert rc == 1 and j["sub_indication"] == "HASH_FAILURE"


def test_verify_tampered_document(made, tmp_path):
    doc = bytearray((made / "doc.bin").read_bytes())
    doc[0] ^= 0x80
    (tmp_path / "doc.bin").write_bytes(bytes(doc))
    j, rc = report("verify-file", "--signature", str(made / "sig.dat"),
                   "--data", str(tmp_path / "doc.bin"), "--trust",
                   str(made / "trust"))
    assert rc == 1
    assert j["indication"] == "TOTAL_FAILED"
    assert j["sub_indication"] == "HASH_FAILURE"


def test_verify_bare_seal(made):
    j, rc = report("verify-file", "--seal", "--signature",
                   str(made / "seal.esl"), "--trust", str(made / "trust"))
    assert rc == 2 and j["kind"] == "seal"
    assert j["checks"]["seal_status"]["status"] == "not_checked"
    assert j["checks"]["seal_signature"]["status"] == "passed"
    j, rc = report("verify-file", str(made / "seal.esl"))
    assert rc == 2 and j["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"


def test_usage_and_io_errors(tmp_path):
    assert run("verify-file").returncode == 64      # usage
    assert run("inspect").returncode == 64
    assert run("verify-file", "--signature",
               str(tmp_path / "missing")).returncode == 3
    junk = tmp_path / "junk.der"
    junk.write_bytes(b"\x30\x03\x02\x01\x01garbage")
    j, rc = report("verify-file", "--signature", str(junk))
    assert rc == 1 and j["sub_indication"] == "FORMAT_FAILURE"
    assert run("inspect", str(junk)).returncode == 1


SEAL_VECTORS = [
    ("ofdrw-UserV1.esl", "v1", "passed"),
    ("ofdrw-UserV4.esl", "v4", "passed"),
    ("ofdrw-UserV5.esl", "v5", "passed"),
    ("ofdrw-UserV5_ts.esl", "v5", "passed"),
    ("hebeigede-v4-badsig.der", "v4", "failed"),
]


@pytest.mark.parametrize("name,fmt,sig", SEAL_VECTORS)
def test_seal_vectors(name, fmt, sig):
    path = os.path.join(VECTORS, "seals", name)
    if not os.path.exists(path):
        pytest.fail("vectors not available" + " (scripts/test installs everything; a missing part is a failure, not a skip)")
    j, _ = report("inspect", path, code=0)
    assert j["format"] == fmt
    j, rc = report("verify-file", "--signature", path)
    assert j["checks"]["seal_signature"]["status"] == sig
    assert rc == (1 if sig == "failed" else 2)
    if name.endswith("_ts.esl"):
        assert j["checks"]["timestamp"]["reason"] == \
            "present but not a valid token"


@pytest.mark.parametrize("name", ["allprotected", "signedFile", "v4signed"])
def test_signature_pairs(name):
    dat = os.path.join(VECTORS, "signatures", name + "-Sign_0.SignedValue.dat")
    xml = os.path.join(VECTORS, "signatures", name + "-Sign_0.Signature.xml")
    if not os.path.exists(dat):
        pytest.fail("vectors not available" + " (scripts/test installs everything; a missing part is a failure, not a skip)")
    j, rc = report("verify-file", "--signature", dat, "--data", xml)
    for c in ("data_hash", "signature", "seal_signature"):
        assert j["checks"][c]["status"] == "passed", (c, j)
    assert rc == 2  # no trust anchors given: chain indeterminate
    h = hashlib.new("sm3") if "sm3" in hashlib.algorithms_available else None
    if h is not None:
        h.update(open(xml, "rb").read())
        j, _ = report("verify-file", "--signature", dat, "--hash",
                      h.hexdigest())
        assert j["checks"]["data_hash"]["status"] == "passed"


OFD_SIGNS = [
    # (ofd, sign dir, expected statuses)
    ("v1-dms360", "Sign_0", {"structure": "passed", "seal_signature": "passed",
                             "signature": "failed", "data_hash": "failed"}),
    ("keyword-edited", "Sign_1", {"structure": "passed",
                                  "seal_signature": "passed",
                                  "signature": "passed",
                                  "data_hash": "passed"}),
    ("v4signed", "Sign_0", {"signature": "passed", "seal_signature": "passed",
                            "data_hash": "passed"}),
]


@pytest.mark.parametrize("ofd,sign,want", OFD_SIGNS)
def test_signatures_inside_ofd(ofd, sign, want, tmp_path):
    """Signatures taken (at test time, into tmp) out of the OFD vectors."""
    import zipfile
    path = os.path.join(VECTORS, "ofd", ofd + ".ofd")
    if not os.path.exists(path):
        pytest.fail("vectors not available" + " (scripts/test installs everything; a missing part is a failure, not a skip)")
    z = zipfile.ZipFile(path)
    base = "Doc_0/Signs/%s/" % sign
    (tmp_path / "sv.dat").write_bytes(z.read(base + "SignedValue.dat"))
    (tmp_path / "sig.xml").write_bytes(z.read(base + "Signature.xml"))
    j, rc = report("verify-file", "--signature", str(tmp_path / "sv.dat"),
                   "--data", str(tmp_path / "sig.xml"))
    for check, status in want.items():
        assert j["checks"][check]["status"] == status, (check, j)
    assert rc == (1 if "failed" in want.values() else 2)
    if base + "Seal.esl" in z.namelist():
        (tmp_path / "seal.esl").write_bytes(z.read(base + "Seal.esl"))
        j, _ = report("verify-file", "--seal", "--signature",
                      str(tmp_path / "seal.esl"))
        assert j["checks"]["seal_signature"]["status"] == "passed", j
        assert j["checks"]["structure"]["status"] == "passed", j


def test_gbt35275_bare_signed_value(tmp_path):
    """Issue 14 item 12: verify-file takes a bare GB/T 35275 SignedValue
    with the Signature.xml it was signed over (--data) or its SM3
    (--hash); a Signature.xml changed after signing fails the binding."""
    from gbt35275 import edit_page, sign_ofd
    _, xml, sv = sign_ofd()
    _, changed, _ = sign_ofd(edit_page, sv)
    (tmp_path / "sv.dat").write_bytes(sv)
    (tmp_path / "sig.xml").write_bytes(xml)
    (tmp_path / "changed.xml").write_bytes(changed)
    j, rc = report("verify-file", "--signature", str(tmp_path / "sv.dat"),
                   "--data", str(tmp_path / "sig.xml"))
    assert j["kind"] == "signed_data", j
    assert j["checks"]["signature"]["status"] == "passed", j
    assert j["checks"]["data_hash"]["status"] == "passed", j
    assert rc == 2 and j["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    j, rc = report("verify-file", "--signature", str(tmp_path / "sv.dat"),
                   "--hash", hashlib.new("sm3", xml).hexdigest())
    assert j["checks"]["data_hash"]["status"] == "passed", j
    j, rc = report("verify-file", "--signature", str(tmp_path / "sv.dat"),
                   "--data", str(tmp_path / "changed.xml"))
    assert j["checks"]["signature"]["status"] == "passed", j
    assert j["checks"]["data_hash"]["status"] == "failed", j
    assert rc == 1 and j["sub_indication"] == "HASH_FAILURE"
