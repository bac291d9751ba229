"""An OFD amplification package (issue 14 item 13), made in the test: a
valid one-page OFD whose one signature references n entries of size bytes
of zeros each.  Every entry is at most 1 MiB, so each passes the per-entry
compression-ratio check (applied above 1 MiB); together they inflate to
n * size bytes from a package of a few hundred KB."""
import base64
import hashlib
import io
import zipfile

from ofdgen import ofd

NS = 'xmlns:ofd="http://www.ofdspec.org/2016"'


def bomb(n=250, size=1 << 20):
    zero = bytes(size)
    check = base64.b64encode(hashlib.new("sm3", zero).digest()).decode()
    with zipfile.ZipFile(io.BytesIO(ofd(1))) as z:
        files = {name: z.read(name) for name in z.namelist()}
    files["OFD.xml"] = files["OFD.xml"].replace(
        b"</ofd:DocRoot>", b"</ofd:DocRoot><ofd:Signatures>"
        b"Doc_0/Signs/Signatures.xml</ofd:Signatures>")
    refs = "".join(f'<ofd:Reference FileRef="/Doc_0/Res/z{i}.bin">'
                   f'<ofd:CheckValue>{check}</ofd:CheckValue>'
                   '</ofd:Reference>' for i in range(n))
    files["Doc_0/Signs/Signatures.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signatures {NS}>'
        '<ofd:Signature ID="1" Type="Sign" BaseLoc="/Doc_0/Signs/Sign_0/'
        'Signature.xml"/></ofd:Signatures>\n').encode()
    files["Doc_0/Signs/Sign_0/Signature.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signature {NS}>'
        '<ofd:SignedInfo><ofd:SignatureDateTime>2024-01-01 00:00:00'
        '</ofd:SignatureDateTime><ofd:References CheckMethod="SM3">'
        f'{refs}</ofd:References></ofd:SignedInfo><ofd:SignedValue>'
        'SignedValue.dat</ofd:SignedValue></ofd:Signature>\n').encode()
    files["Doc_0/Signs/Sign_0/SignedValue.dat"] = bytes(64)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
        for i in range(n):
            z.writestr(f"Doc_0/Res/z{i}.bin", zero)
    return buf.getvalue()
