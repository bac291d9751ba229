"""test_token.py - `seald token` end to end (issue 4, key custody).

SM2 keys are generated in and used through the project's dev token
(libsealdtoken.so) under every vendor profile, ECDSA P-256 keys through
SoftHSM2; every signature is verified with the `openssl` CLI, outside seald.
Also: wrong PIN refused and counted, pkcs11-tool -L -M -O / --sign against the
dev token, pkcs11-tool as the token initializer, and the fault switch.
"""
import json
import os
import shutil
import subprocess

import pytest

SEALD = os.environ.get("SEALD_BIN", os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "src", "seald"))
BUILD = os.environ.get("SEALD_BUILD_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "build"))
DEVTOKEN = os.path.join(BUILD, "src", "devtoken", "libsealdtoken.so")
SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
PIN, SO_PIN = "123456", "so-secret-1"
SM2_PROFILES = ["sm2-sansec", "sm2-tass", "sm2-luna", "sm2-ibm"]
VENDOR_SIGN = {"sm2-sansec": "0x80008104", "sm2-tass": "0x80008000",
               "sm2-luna": "0x80000B21", "sm2-ibm": "0x8005000B"}


def run(cmd, env=None, check=True, **kw):
    out = subprocess.run(cmd, capture_output=True, env=env, timeout=120, **kw)
    if check:
        assert out.returncode == 0, (cmd, out.stdout, out.stderr)
    return out


def openssl(*args, check=True):
    return run(["openssl", *args], check=check)


class Token:
    """A token directory plus the flags `seald token` needs to reach it."""

    def __init__(self, tmp, module, profile, label, env):
        self.tmp, self.module, self.profile, self.label = tmp, module, profile, label
        self.env = env
        self.pin_file = tmp / "pin"
        self.pin_file.write_text(PIN + "\n")

    def flags(self, pin_file=None):
        return ["--module", self.module, "--profile", self.profile,
                "--token-label", self.label, "--pin-file",
                str(pin_file or self.pin_file)]

    def seald(self, sub, *args, check=True, pin_file=None):
        out = run([SEALD, "token", sub, *self.flags(pin_file), *args],
                  env=self.env, check=check)
        return out

    def generate(self, label="seal-key"):
        out = self.seald("generate", "--label", label)
        key_id = out.stdout.decode().strip()
        assert len(key_id) == 32 and int(key_id, 16) >= 0
        return key_id


@pytest.fixture(scope="module", autouse=True)
def seald_has_token():
    out = subprocess.run([SEALD, "token", "help"], capture_output=True)
    assert out.returncode == 0, "seald token is not wired into the binary"
    assert os.path.exists(DEVTOKEN), DEVTOKEN


def make_devtoken(tmp_path, profile):
    env = dict(os.environ)
    env["SEALD_DEVTOKEN_DIR"] = str(tmp_path / "tok")
    env.pop("SEALD_DEVTOKEN_PROFILE", None)
    tok = Token(tmp_path, DEVTOKEN, profile, "dev", env)
    (tmp_path / "sopin").write_text(SO_PIN + "\n")
    out = run([SEALD, "token", "init-dev", "--module", DEVTOKEN, "--dir",
               str(tmp_path / "tok"), "--so-pin-file", str(tmp_path / "sopin"),
               "--pin-file", str(tok.pin_file), "--label", "dev",
               "--profile", profile], env=env)
    assert b"initialized" in out.stdout
    return tok


@pytest.mark.parametrize("profile", SM2_PROFILES)
def test_devtoken_sm2_sign_verified_by_openssl(tmp_path, profile):
    tok = make_devtoken(tmp_path, profile)
    key_id = tok.generate()
    pem = tmp_path / "pub.pem"
    tok.seald("pubkey", "--id", key_id, "--out", str(pem))
    text = openssl("pkey", "-pubin", "-in", str(pem), "-text", "-noout").stdout
    assert b"SM2" in text
    msg = tmp_path / "msg.txt"
    msg.write_bytes(b"GB/T 38540 seal test " * 50)
    sig = tmp_path / "sig.der"
    tok.seald("sign", "--id", key_id, "--in", str(msg), "--out", str(sig))
    assert sig.read_bytes()[0] == 0x30                  # always DER
    out = openssl("dgst", "-sm3", "-verify", str(pem), "-sigopt",
                  "distid:1234567812345678", "-signature", str(sig), str(msg))
    assert b"Verified OK" in out.stdout
    msg.write_bytes(b"tampered")
    out = openssl("dgst", "-sm3", "-verify", str(pem), "-sigopt",
                  "distid:1234567812345678", "-signature", str(sig), str(msg),
                  check=False)
    assert out.returncode != 0
    st = json.loads(tok.seald("selftest", "--id", key_id).stdout)
    assert st["ok"] is True and st["profile"] == profile
    listing = json.loads(tok.seald("list").stdout)
    assert [k["id"] for k in listing["keys"]] == [key_id]
    assert listing["slots"][0]["model"] == "SM2 " + profile[4:]
    health = json.loads(tok.seald("health").stdout)[0]
    assert health["present"] and health["logged_in"]


def test_devtoken_wrong_pin_refused_and_counted(tmp_path):
    tok = make_devtoken(tmp_path, "sm2-sansec")
    key_id = tok.generate()
    bad = tmp_path / "badpin"
    bad.write_text("999999\n")
    out = tok.seald("selftest", "--id", key_id, check=False, pin_file=bad)
    assert out.returncode == 1
    assert b"hsm_unavailable" in out.stderr and b"PIN" in out.stderr
    data = (tmp_path / "tok" / "token.dat").read_text()
    assert "user_fail=1" in data                        # one try, not two
    # the PIN never appears in the token files
    for f in (tmp_path / "tok").iterdir():
        assert PIN.encode() not in f.read_bytes()
    tok.seald("selftest", "--id", key_id)
    assert "user_fail=0" in (tmp_path / "tok" / "token.dat").read_text()


def test_devtoken_pin_lock_after_repeated_failures(tmp_path):
    tok = make_devtoken(tmp_path, "sm2-tass")
    bad = tmp_path / "badpin"
    bad.write_text("999999\n")
    for _ in range(5):
        tok.seald("health", check=False, pin_file=bad)
    out = tok.seald("selftest", check=False)
    assert out.returncode == 1 and b"locked" in out.stderr.lower()


def test_pin_from_environment(tmp_path):
    tok = make_devtoken(tmp_path, "sm2-luna")
    env = dict(tok.env, SEALD_TEST_PIN=PIN)
    out = run([SEALD, "token", "generate", "--module", DEVTOKEN, "--profile",
               "sm2-luna", "--token-label", "dev", "--pin-env", "SEALD_TEST_PIN"],
              env=env)
    assert len(out.stdout.strip()) == 32


def test_pkcs11_tool_against_devtoken(tmp_path):
    if not shutil.which("pkcs11-tool"):
        pytest.fail("pkcs11-tool not installed" + " (scripts/test installs everything; a missing part is a failure, not a skip)")
    tok = make_devtoken(tmp_path, "sm2-sansec")
    key_id = tok.generate("p11tool")
    base = ["pkcs11-tool", "--module", DEVTOKEN]
    out = run([*base, "-L"], env=tok.env).stdout.decode()
    assert "seald devtoken" in out and "dev" in out
    out = run([*base, "-M"], env=tok.env).stdout.decode()
    assert "0x80008001" in out.lower() and "0x80008104" in out.lower()
    out = run([*base, "-O", "--login", "--pin", PIN], env=tok.env).stdout.decode()
    assert "Private Key Object" in out and key_id in out.replace(" ", "")
    # vendor sign mechanism over e, verified by openssl as a raw SM2 e
    e = tmp_path / "e.bin"
    e.write_bytes(os.urandom(32))
    sig = tmp_path / "sig.bin"
    run([*base, "--login", "--pin", PIN, "--sign", "-m", "0x80008104",
         "--id", key_id, "-i", str(e), "-o", str(sig)], env=tok.env)
    assert len(sig.read_bytes()) == 64                  # sansec: raw r||s
    r, s = sig.read_bytes()[:32], sig.read_bytes()[32:]

    def der_int(b):
        b = b.lstrip(b"\0") or b"\0"
        if b[0] & 0x80:
            b = b"\0" + b
        return bytes([2, len(b)]) + b
    body = der_int(r) + der_int(s)
    (tmp_path / "sig.der").write_bytes(bytes([0x30, len(body)]) + body)
    pem = tmp_path / "pub.pem"
    tok.seald("pubkey", "--id", key_id, "--out", str(pem))
    out = openssl("pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-in", str(e),
                  "-sigfile", str(tmp_path / "sig.der"))
    assert b"Verified Successfully" in out.stdout
    # wrong PIN through pkcs11-tool too
    out = run([*base, "-O", "--login", "--pin", "000000"], env=tok.env, check=False)
    assert b"CKR_PIN_INCORRECT" in out.stdout + out.stderr


def test_pkcs11_tool_initializes_devtoken(tmp_path):
    if not shutil.which("pkcs11-tool"):
        pytest.fail("pkcs11-tool not installed" + " (scripts/test installs everything; a missing part is a failure, not a skip)")
    (tmp_path / "tok").mkdir()
    (tmp_path / "tok" / "profile").write_text("ibm\n")
    env = dict(os.environ, SEALD_DEVTOKEN_DIR=str(tmp_path / "tok"))
    base = ["pkcs11-tool", "--module", DEVTOKEN]
    run([*base, "--init-token", "--label", "p11", "--so-pin", SO_PIN], env=env)
    run([*base, "--init-pin", "--login", "--so-pin", SO_PIN, "--pin", PIN], env=env)
    tok = Token(tmp_path, DEVTOKEN, "sm2-ibm", "p11", env)
    key_id = tok.generate()
    assert json.loads(tok.seald("selftest", "--id", key_id).stdout)["ok"]
    # change the user PIN with pkcs11-tool; keys stay usable with the new PIN
    run([*base, "--change-pin", "--login", "--pin", PIN, "--new-pin", "7654321"], env=env)
    newpin = tmp_path / "newpin"
    newpin.write_text("7654321\n")
    out = tok.seald("selftest", "--id", key_id, pin_file=newpin)
    assert json.loads(out.stdout)["ok"]


def test_devtoken_fault_switch(tmp_path):
    tok = make_devtoken(tmp_path, "sm2-tass")
    key_id = tok.generate()
    absent = tmp_path / "tok" / "absent"
    absent.write_text("")
    out = tok.seald("selftest", "--id", key_id, check=False)
    assert out.returncode == 1 and b"hsm_unavailable" in out.stderr
    listing = json.loads(run([SEALD, "token", "list", "--module", DEVTOKEN],
                             env=tok.env).stdout)
    assert listing[0]["present"] is False
    absent.unlink()
    assert json.loads(tok.seald("selftest", "--id", key_id).stdout)["ok"]


@pytest.fixture
def softhsm(tmp_path):
    if not os.path.exists(SOFTHSM):
        pytest.fail("SoftHSM2 not installed" + " (scripts/test installs everything; a missing part is a failure, not a skip)")
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\n"
                    "objectstore.backend = file\nlog.level = ERROR\n")
    env = dict(os.environ, SOFTHSM2_CONF=str(conf))
    run(["softhsm2-util", "--init-token", "--free", "--label", "ec-test",
         "--so-pin", "12345678", "--pin", PIN], env=env)
    return Token(tmp_path, SOFTHSM, "ecdsa-p256", "ec-test", env)


def test_softhsm_ecdsa_p256_verified_by_openssl(tmp_path, softhsm):
    key_id = softhsm.generate("ca-key")
    pem = tmp_path / "pub.pem"
    softhsm.seald("pubkey", "--id", key_id, "--out", str(pem))
    text = openssl("pkey", "-pubin", "-in", str(pem), "-text", "-noout").stdout
    assert b"prime256v1" in text or b"P-256" in text
    msg = tmp_path / "msg.txt"
    msg.write_bytes(b"audit checkpoint 42\n")
    sig = tmp_path / "sig.der"
    softhsm.seald("sign", "--id", key_id, "--in", str(msg), "--out", str(sig))
    out = openssl("dgst", "-sha256", "-verify", str(pem), "-signature", str(sig), str(msg))
    assert b"Verified OK" in out.stdout
    assert json.loads(softhsm.seald("selftest", "--id", key_id).stdout)["ok"]


def test_softhsm_wrong_pin_and_profile_mismatch(tmp_path, softhsm):
    bad = tmp_path / "badpin"
    bad.write_text("000000\n")
    out = softhsm.seald("health", check=False, pin_file=bad)
    assert out.returncode == 1 and b"PIN" in out.stderr
    # SoftHSM cannot do SM2: the profile's mechanisms are refused up front
    out = run([SEALD, "token", "generate", "--module", SOFTHSM, "--profile",
               "sm2-sansec", "--token-label", "ec-test", "--pin-file",
               str(softhsm.pin_file)], env=softhsm.env, check=False)
    assert out.returncode == 1 and b"config" in out.stderr
