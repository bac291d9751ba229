"""Issue 19 item 7: `seald impression`, the seal picture tool.  A drawn
round or rectangular impression has the template's shape (read back pixel
by pixel), and an application accepts it; a scan keeps the red ink, loses
the paper and the black and blue, is cropped to the seal, and a scan that
breaks a rule is refused with the rule named and nothing written."""
import base64
import json
import random
import struct
import subprocess
import zlib

import pytest

from conftest import Instance, SEALD
from test_seals import Seals


def impression(*args):
    """Run `seald impression ARGS`: (exit status, report or None, stderr)."""
    out = subprocess.run([SEALD, "impression", *map(str, args)],
                         capture_output=True, text=True, timeout=60)
    try:
        report = json.loads(out.stdout) if out.stdout.strip() else None
    except ValueError:
        report = None
    return out.returncode, report, out.stderr


def decode_png(data):
    """(width, height, rows of (r, g, b, a)) of an 8-bit, non-interlaced RGB
    or RGBA PNG: what cairo writes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, inter = struct.unpack(
                ">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and inter == 0
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, bpp = zlib.decompress(idat), 4 if ctype == 6 else 3
    stride, prev, rows = width * bpp, bytearray(width * bpp), []
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(
            raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xff
            elif f == 2:
                line[i] = (line[i] + b) & 0xff
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xff
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 0xff
        rows.append([tuple(line[x * bpp:x * bpp + bpp]) + (() if bpp == 4
                     else (255,)) for x in range(width)])
        prev = line
    return width, height, rows


def is_ink(px):
    r, g, b, a = px
    return a > 200 and r > 150 and g < 80 and b < 80


def encode_png(width, height, pixel):
    """An RGB PNG of pixel(x, y) -> (r, g, b): a "scan"."""
    raw = b"".join(b"\x00" + b"".join(bytes(pixel(x, y))
                                      for x in range(width))
                   for y in range(height))

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0,
                                       0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_draw_round_has_the_template_shape(tmp_path):
    out = tmp_path / "round.png"
    rc, rep, err = impression("draw", "--shape", "round", "--name",
                              "哈尔滨市档案局", "--inner", "合同专用章",
                              "--code", "2301000012345", "-o", out)
    assert rc == 0, err
    # 40 mm at the default 300 dpi
    assert (rep["width_px"], rep["height_px"]) == (472, 472)
    assert rep["problems"] == [] and rep["written"] == str(out)
    w, h, px = decode_png(out.read_bytes())
    assert (w, h) == (472, 472)
    # the paper is transparent: corners, and inside the ring between the
    # star and the name
    for x, y in [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1), (5, 5)]:
        assert px[y][x][3] == 0, (x, y)
    # the ring: ink just inside the edge at top, bottom, left and right
    lw = round(472 * 0.032)
    for x, y in [(w // 2, lw // 2), (w // 2, h - 1 - lw // 2),
                 (lw // 2, h // 2), (w - 1 - lw // 2, h // 2)]:
        assert is_ink(px[y][x]), (x, y, px[y][x])
    # the star's centre is solid ink, and the ink is the seal red
    assert is_ink(px[h // 2][w // 2])
    # the name: ink in the upper band between the ring and the star
    upper = sum(is_ink(px[y][x]) for y in range(30, 110)
                for x in range(150, 322))
    assert upper > 1500
    # between the name's first character (left, on the arc) and the star
    # the middle row is empty
    assert not any(is_ink(px[h // 2][x]) for x in range(108, 148))


def test_draw_rect_personal_seal(tmp_path):
    out = tmp_path / "p.png"
    rc, rep, err = impression("draw", "--shape", "rect", "--name", "张三之印",
                              "--size", "20x20", "--dpi", "400", "-o", out)
    assert rc == 0, err
    w, h, px = decode_png(out.read_bytes())
    assert (w, h) == (315, 315) == (rep["width_px"], rep["height_px"])
    # a frame all round
    for x, y in [(w // 2, 2), (w // 2, h - 3), (2, h // 2), (w - 3, h // 2)]:
        assert is_ink(px[y][x]), (x, y)
    # four characters in a 2x2 grid: ink in every quadrant's middle area
    for qx in (0, 1):
        for qy in (0, 1):
            ink = sum(is_ink(px[y][x])
                      for y in range(qy * h // 2 + 40, qy * h // 2 + 120)
                      for x in range(qx * w // 2 + 40, qx * w // 2 + 120))
            assert ink > 300, (qx, qy, ink)


@pytest.mark.parametrize("args,words", [
    (["--shape", "oval", "--name", "x"], "round|rect"),
    (["--shape", "round", "--name", "x" * 30], "characters"),
    (["--shape", "round", "--name", "局", "--size", "40x30"], "diameter"),
    (["--shape", "round", "--name", "局", "--size", "90"], "10..80 mm"),
    (["--shape", "round", "--name", "局", "--dpi", "100"], "dpi"),
    (["--shape", "rect", "--name", "张三", "--code", "1"], "only a name"),
])
def test_draw_refuses_what_the_rules_refuse(tmp_path, args, words):
    out = tmp_path / "x.png"
    rc, rep, err = impression("draw", *args, "-o", out)
    assert rc in (1, 64), (rc, err)
    assert any(w in err for w in words.split("|")), err
    assert not out.exists()


def test_usage_and_help():
    assert impression()[0] == 64
    assert impression("paint")[0] == 64
    rc = subprocess.run([SEALD, "impression", "--help"], capture_output=True,
                        text=True)
    assert rc.returncode == 0 and "seald impression draw" in rc.stdout
    rc = subprocess.run([SEALD, "impression", "draw", "--help"],
                        capture_output=True, text=True)
    assert rc.returncode == 0 and "scan" in rc.stdout


# A scan: off-white noisy paper, 1000 x 800 px at 300 dpi, a red seal 472 px
# (40 mm) across with its centre at (450, 400), a black signature stroke
# across it and a blue pen line beside it.
SCAN_CX, SCAN_CY, SCAN_R = 450, 400, 236


def scan_pixel(x, y, rnd=random.Random(7)):
    d = ((x - SCAN_CX) ** 2 + (y - SCAN_CY) ** 2) ** 0.5
    if abs(y - 420) < 4 and 300 < x < 700:
        return (20, 20, 25)                       # black ink over the seal
    if abs(x - 900) < 3 and 100 < y < 700:
        return (30, 40, 200)                      # blue pen
    if SCAN_R - 14 < d < SCAN_R or d < 60:
        return (200 + rnd.randrange(30), 20 + rnd.randrange(30),
                30 + rnd.randrange(30))           # red ink, uneven
    v = 235 + rnd.randrange(20)
    return (v, v - rnd.randrange(6), v - rnd.randrange(10))


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    path = tmp_path_factory.mktemp("scan") / "scan.png"
    path.write_bytes(encode_png(1000, 800, scan_pixel))
    return path


def test_scan_keeps_the_red_and_crops(scan, tmp_path):
    out = tmp_path / "seal.png"
    rc, rep, err = impression("scan", "--dpi", 300, "--size", "40x40",
                              "-o", out, scan)
    assert rc == 0, (err, rep)
    assert rep["problems"] == []
    # the seal's own size, measured from the ink: 472 px at 300 dpi
    assert abs(rep["width_mm"] - 40) < 1 and abs(rep["height_mm"] - 40) < 1
    w, h, px = decode_png(out.read_bytes())
    # cropped to the ink plus a small margin (1% of the scan + 2 px a side)
    assert 472 <= w <= 472 + 2 * 12 + 2 and 472 <= h <= 472 + 2 * 12 + 2
    ox, oy = (w - 472) // 2, (h - 472) // 2
    # the paper is gone, the ring and the middle are kept as red
    assert px[0][0][3] == 0 and px[h - 1][w - 1][3] == 0
    assert px[oy + 236][ox + 236][3] > 200                 # the middle dot
    assert px[oy + 236][ox + 236][0] > 150
    assert px[oy + 5][ox + 236][3] > 200                   # top of the ring
    # the black stroke across the seal is not ink
    assert px[oy + 256][ox + 100][3] == 0
    # nothing of the blue pen line (it is outside the crop, too)
    assert all(p[3] == 0 or p[0] > p[2] for row in px for p in row[::7])


def test_scan_with_the_wrong_resolution_says_so(scan, tmp_path):
    out = tmp_path / "seal.png"
    rc, rep, err = impression("scan", "--dpi", 100, "--size", "40x40",
                              "-o", out, scan)
    assert rc == 1
    text = " ".join(rep["problems"])
    assert "150 dpi or more" in text          # the resolution rule
    assert "is --dpi right" in text           # 472 px at 100 dpi = 120 mm
    assert rep["written"] is None and not out.exists()


def test_scan_without_red_ink(tmp_path):
    grey = tmp_path / "grey.png"
    grey.write_bytes(encode_png(300, 300, lambda x, y: (
        (60, 60, 60) if 100 < x < 200 and 100 < y < 200 else (240, 240, 240))))
    out = tmp_path / "seal.png"
    rc, rep, err = impression("scan", "--dpi", 300, "-o", out, grey)
    assert rc == 1 and "no red ink" in rep["problems"][0]
    assert not out.exists()
    # not a PNG at all
    (tmp_path / "x.png").write_bytes(b"GIF89a....")
    rc, rep, err = impression("scan", "--dpi", 300, "-o", out,
                              tmp_path / "x.png")
    assert rc == 1 and "must be a PNG" in err


def test_scan_larger_than_its_ihdr_allows_is_refused_before_decoding(
        tmp_path):
    huge = tmp_path / "huge.png"
    body = struct.pack(">IIBBBBB", 9000, 9000, 8, 2, 0, 0, 0)
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" +
                     body + struct.pack(">I", zlib.crc32(b"IHDR" + body)))
    rc, rep, err = impression("scan", "--dpi", 300, "-o", tmp_path / "o.png",
                              huge)
    assert rc == 1 and "at most 8000 px a side" in err


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("impression") / "inst")
    inst.start()
    w = Seals(inst)
    yield w
    rc, _, err = inst.stop()
    assert rc == 0, err


def test_a_drawn_impression_makes_a_seal(world, tmp_path):
    """What the tool draws, an application accepts and the seal carries."""
    out = tmp_path / "round.png"
    rc, _, err = impression("draw", "--shape", "round", "--name",
                            "哈尔滨市档案局", "-o", out)
    assert rc == 0, err
    pic = out.read_bytes()
    esid = world.new_active_seal(image={
        "data": base64.b64encode(pic).decode(), "width_mm": 40,
        "height_mm": 40})
    r = world.inst.get(f"/api/v1/seals/{esid}/picture",
                       world.cred["applicant"])
    assert r.status_code == 200 and r.content == pic
