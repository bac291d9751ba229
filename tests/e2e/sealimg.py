"""Seal impression images made in the test (PNG and GIF): valid ones, and
the bad ones of issue 14 that only a real decoder refuses."""
import random
import struct
import zlib


def _chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + \
        struct.pack(">I", zlib.crc32(body) & 0xffffffff)


def _png(width, height, idat, colour_type=2):
    """IHDR, the zlib stream idat in IDAT chunks of 8 KiB (as libpng writes
    them), IEND."""
    return (b"\x89PNG\r\n\x1a\n" +
            _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8,
                                        colour_type, 0, 0, 0)) +
            b"".join(_chunk(b"IDAT", idat[i:i + 8192])
                     for i in range(0, len(idat), 8192)) +
            _chunk(b"IEND", b""))


def _ring(width, height):
    """Rows of booleans: a ring touching the edges, like an impression."""
    cx, cy, r = width / 2, height / 2, min(width, height) / 2 - 2
    for y in range(height):
        yield [r - 6 < ((x - cx) ** 2 + (y - cy) ** 2) ** 0.5 < r
               for x in range(width)]


def png(width=200, height=200, colour=(200, 0, 0)):
    """An RGB PNG: a red ring on white, enough to be a real image."""
    rows = []
    for line in _ring(width, height):
        row = bytearray([0])
        for on in line:
            row += bytes(colour) if on else b"\xff\xff\xff"
        rows.append(bytes(row))
    return _png(width, height, zlib.compress(b"".join(rows)))


def _lzw(pixels):
    """GIF image data: LZW minimum code size 7, uncompressed codes (a clear
    code before every 126 pixels keeps them one byte wide), sub-blocks."""
    codes = bytearray()
    for i, p in enumerate(pixels):
        if i % 126 == 0:
            codes.append(128)           # clear
        codes.append(p)
    codes.append(129)                   # end of information
    blocks = b"".join(bytes([len(codes[i:i + 255])]) + codes[i:i + 255]
                      for i in range(0, len(codes), 255))
    return b"\x07" + blocks + b"\x00"


def gif(width=120, height=120):
    """A two-colour GIF89a: a red ring on white."""
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0)
    palette = b"\xff\xff\xff\xc8\x00\x00"
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    pixels = [1 if on else 0 for line in _ring(width, height) for on in line]
    return header + palette + image + _lzw(pixels) + b"\x3b"


def png_random_idat(width=200, height=200, seed=14):
    """A PNG with a valid signature, IHDR and CRCs whose image data is
    random bytes."""
    rnd = random.Random(seed)
    return _png(width, height, bytes(rnd.getrandbits(8) for _ in range(4096)))


def png_bomb(width=200, height=200, inflated=500 << 20):
    """A width x height PNG whose zlib stream inflates to `inflated` bytes:
    the image's rows, then zeros.  One MiB of zeros is deflated once after
    a full flush (so it refers to nothing before it) and repeated; about
    1 KiB of file per MiB inflated."""
    z = zlib.compressobj(9)
    raw = (b"\x00" + b"\xff" * (3 * width)) * height
    zeros = bytes(1 << 20)
    head = z.compress(raw) + z.flush(zlib.Z_FULL_FLUSH)
    segment = z.compress(zeros) + z.flush(zlib.Z_FULL_FLUSH)
    n = (inflated - len(raw)) >> 20
    adler = zlib.adler32(raw)
    for _ in range(n):
        adler = zlib.adler32(zeros, adler)
    final = b"\x03\x00"                # an empty final fixed-Huffman block
    return _png(width, height, head + segment * n + final +
                struct.pack(">I", adler))


def gif_truncated(width=120, height=120):
    """A GIF whose blocks are all well formed but whose LZW data stops
    after the first row of pixels."""
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0)
    palette = b"\xff\xff\xff\xc8\x00\x00"
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    return header + palette + image + _lzw([1] * width) + b"\x3b"
