"""Small, valid seal impression images made in the test (PNG and GIF)."""
import struct
import zlib


def png(width=200, height=200, colour=(200, 0, 0)):
    """An RGB PNG: a red ring on white, enough to be a real image."""
    rows = []
    cx, cy, r = width / 2, height / 2, min(width, height) / 2 - 2
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            d = ((x - cx) ** 2 + (y - cy) ** 2) ** 0.5
            row += bytes(colour) if r - 6 < d < r else b"\xff\xff\xff"
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + \
            struct.pack(">I", zlib.crc32(body) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0,
                                       0)) +
            chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def gif(width=120, height=120):
    """A one-colour GIF89a."""
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0)
    palette = b"\xc8\x00\x00\xff\xff\xff"
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    data = b"\x02\x02\x4c\x01\x00"   # minimal LZW stream
    return header + palette + image + data + b"\x3b"
