"""GB/T 35275 SignedData and OFD Type="Sign" signatures written here,
independently of seald: DER by hand, SM3 by hashlib, the SM2 signature by
`openssl pkeyutl` with the SM2 ID 1234567812345678, the signer the ofdrw
test key and certificate in $SEALD_VECTORS/keys (valid 2021-07-29 to
2023-07-29; its root is not among any instance's anchors)."""
import base64
import hashlib
import io
import os
import subprocess
import tempfile
import zipfile

from ofdgen import ofd

VECTORS = os.environ.get("SEALD_VECTORS", os.path.join(
    os.path.dirname(__file__), "..", "vectors"))
KEY = os.path.join(VECTORS, "keys", "ofdrw-sign_key.pem")
CERT = os.path.join(VECTORS, "keys", "ofdrw-sign_cert.pem")
SIGNING_TIME = b"220601120000Z"          # inside the certificate's validity
NS = 'xmlns:ofd="http://www.ofdspec.org/2016"'


def sm3(data):
    return hashlib.new("sm3", data).digest()


def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        head = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + head + content


def oid(dotted):
    parts = [int(x) for x in dotted.split(".")]
    out = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7f]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7f))
            p >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, out)


def alg(dotted):
    return tlv(0x30, oid(dotted) + b"\x05\x00")


def children(der):
    """The TLVs inside the constructed value at the start of der."""
    def head(b, i):
        n = b[i + 1]
        if n < 0x80:
            return i + 2, n
        k = n & 0x7f
        return i + 2 + k, int.from_bytes(b[i + 2:i + 2 + k], "big")
    start, n = head(der, 0)
    i, out = start, []
    while i < start + n:
        body, m = head(der, i)
        out.append(der[i:body + m])
        i = body + m
    return out


def cert_der():
    return subprocess.run(["openssl", "x509", "-in", CERT, "-outform", "DER"],
                          capture_output=True, check=True).stdout


def sm2_sign(msg):
    with tempfile.NamedTemporaryFile() as f:
        f.write(msg)
        f.flush()
        return subprocess.run(
            ["openssl", "pkeyutl", "-sign", "-inkey", KEY, "-rawin",
             "-digest", "sm3", "-pkeyopt", "distid:1234567812345678",
             "-in", f.name], capture_output=True, check=True).stdout


def signed_data(data):
    """Detached SignedData over data, with signed attributes contentType,
    signingTime and messageDigest = SM3(data)."""
    cert = cert_der()
    tbs = children(children(cert)[0])      # TBSCertificate's fields
    serial, issuer = tbs[1], tbs[3]        # after [0] version
    attrs = (tlv(0x30, oid("1.2.840.113549.1.9.3") +
                 tlv(0x31, oid("1.2.156.10197.6.1.4.2.1"))) +
             tlv(0x30, oid("1.2.840.113549.1.9.5") +
                 tlv(0x31, tlv(0x17, SIGNING_TIME))) +
             tlv(0x30, oid("1.2.840.113549.1.9.4") +
                 tlv(0x31, tlv(0x04, sm3(data)))))
    sig = sm2_sign(tlv(0x31, attrs))
    signer = tlv(0x30, b"\x02\x01\x01" + tlv(0x30, issuer + serial) +
                 alg("1.2.156.10197.1.401") + tlv(0xa0, attrs) +
                 alg("1.2.156.10197.1.501") + tlv(0x04, sig))
    sd = tlv(0x30, b"\x02\x01\x01" + tlv(0x31, alg("1.2.156.10197.1.401")) +
             tlv(0x30, oid("1.2.156.10197.6.1.4.2.1")) + tlv(0xa0, cert) +
             tlv(0x31, signer))
    return tlv(0x30, oid("1.2.156.10197.6.1.4.2.2") + tlv(0xa0, sd))


def signature_xml(files):
    refs = "".join(
        f'<ofd:Reference FileRef="/{name}"><ofd:CheckValue>'
        f'{base64.b64encode(sm3(data)).decode()}</ofd:CheckValue>'
        '</ofd:Reference>' for name, data in files.items())
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signature {NS}>'
            '<ofd:SignedInfo><ofd:Provider ProviderName="e2e" '
            'Company="seald"/><ofd:SignatureMethod>1.2.156.10197.1.501'
            '</ofd:SignatureMethod><ofd:SignatureDateTime>2022-06-01 '
            '12:00:00</ofd:SignatureDateTime><ofd:References CheckMethod='
            f'"SM3">{refs}</ofd:References></ofd:SignedInfo>'
            '<ofd:SignedValue>/Doc_0/Signs/Sign_0/SignedValue.dat'
            '</ofd:SignedValue></ofd:Signature>\n').encode()


def sign_ofd(edit=None, signed_value=None):
    """(package, Signature.xml, SignedValue.dat) of an OFD with one
    Type="Sign" signature.  edit(name, data) -> data changes files before
    the References are computed; signed_value reuses an earlier SignedData
    (a page changed after signing, CheckValues rewritten)."""
    with zipfile.ZipFile(io.BytesIO(ofd(2))) as z:
        files = {n: z.read(n) for n in z.namelist()}
    files["OFD.xml"] = files["OFD.xml"].replace(
        b"</ofd:DocRoot>", b"</ofd:DocRoot><ofd:Signatures>"
        b"Doc_0/Signs/Signatures.xml</ofd:Signatures>")
    if edit is not None:
        files = {n: edit(n, d) for n, d in files.items()}
    xml = signature_xml(files)
    sv = signed_value if signed_value is not None else signed_data(xml)
    files["Doc_0/Signs/Signatures.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signatures {NS}>'
        '<ofd:MaxSignId>1</ofd:MaxSignId><ofd:Signature ID="1" Type="Sign" '
        'BaseLoc="/Doc_0/Signs/Sign_0/Signature.xml"/></ofd:Signatures>\n'
    ).encode()
    files["Doc_0/Signs/Sign_0/Signature.xml"] = xml
    files["Doc_0/Signs/Sign_0/SignedValue.dat"] = sv
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue(), xml, sv


def edit_page(name, data):
    """A page changed after signing."""
    if name == "Doc_0/Pages/Page_1/Content.xml":
        return data.replace(b"body text", b"EVIL TEXT")
    return data
