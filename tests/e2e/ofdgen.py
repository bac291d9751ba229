"""A minimal, valid, unsigned OFD package made in the test: n pages, the
keyword "甲方（盖章）" on page 1 (or 0 when there is one page)."""
import io
import zipfile

NS = 'xmlns:ofd="http://www.ofdspec.org/2016"'


def ofd(pages=2):
    files = {
        "OFD.xml": f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:OFD {NS} '
                   'Version="1.0" DocType="OFD"><ofd:DocBody><ofd:DocInfo>'
                   '<ofd:DocID>e2e</ofd:DocID></ofd:DocInfo><ofd:DocRoot>'
                   'Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody>'
                   '</ofd:OFD>\n',
        "Doc_0/PublicRes.xml": f'<?xml version="1.0" encoding="UTF-8"?>\n'
                               f'<ofd:Res {NS} BaseLoc="Res"><ofd:Fonts>'
                               '<ofd:Font ID="3" FontName="SimSun"/>'
                               '</ofd:Fonts></ofd:Res>\n',
    }
    page_refs = "".join(f'<ofd:Page ID="{10 + i}" BaseLoc="Pages/Page_{i}/'
                        'Content.xml"/>' for i in range(pages))
    files["Doc_0/Document.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Document {NS}>'
        '<ofd:CommonData><ofd:MaxUnitID>20</ofd:MaxUnitID><ofd:PageArea>'
        '<ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>'
        '<ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData>'
        f'<ofd:Pages>{page_refs}</ofd:Pages></ofd:Document>\n')
    for i in range(pages):
        kw = i == (1 if pages > 1 else 0)
        keyword = ('<ofd:TextObject ID="300" Boundary="30 200 60 8" Font="3" '
                   'Size="5"><ofd:TextCode X="0" Y="6" DeltaX="g 6 5">'
                   '甲方（盖章）</ofd:TextCode></ofd:TextObject>') if kw else ""
        files[f"Doc_0/Pages/Page_{i}/Content.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Page {NS}>'
            f'<ofd:Content><ofd:Layer ID="{100 + i}"><ofd:TextObject '
            f'ID="{200 + i}" Boundary="30 40 100 6" Font="3" Size="5">'
            f'<ofd:TextCode X="0" Y="5">Page {i} body text</ofd:TextCode>'
            f'</ofd:TextObject>{keyword}</ofd:Layer></ofd:Content>'
            '</ofd:Page>\n')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text.encode())
    return buf.getvalue()
