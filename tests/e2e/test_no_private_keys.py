"""test_no_private_keys.py - the custody invariant, checked by grep.

No seald code outside tests/ and src/devtoken/ (the dev token plays the HSM)
may create or load an OpenSSL EVP_PKEY with a private part: every private key
is generated in and used through a PKCS#11 token (issue 4).  This scans src/
and include/ (comments stripped) for the OpenSSL calls that create or load
private keys.
"""
import os
import re
from pathlib import Path

SOURCE = Path(os.environ.get("SEALD_SOURCE_DIR",
                             Path(__file__).resolve().parents[2]))

# (name, regex) - each regex matches a call that creates/loads a private key.
FORBIDDEN = [
    ("EVP_PKEY_keygen", r"\bEVP_PKEY_keygen(_init)?\b"),
    ("EVP_PKEY_generate", r"\bEVP_PKEY_generate\b"),
    ("EVP_PKEY_Q_keygen", r"\bEVP_PKEY_Q_keygen\b"),
    ("PEM_read_*PrivateKey", r"\bPEM_read_\w*PrivateKey\w*\b"),
    ("d2i_*PrivateKey", r"\bd2i_\w*PrivateKey\w*\b"),
    ("d2i_PKCS8_PRIV_KEY_INFO", r"\bd2i_PKCS8_PRIV_KEY_INFO\w*\b"),
    ("EVP_PKCS82PKEY", r"\bEVP_PKCS82PKEY\w*\b"),
    ("EVP_PKEY_new_raw_private_key", r"\bEVP_PKEY_new_raw_private_key\w*\b"),
    ("EVP_PKEY_fromdata with KEYPAIR/PRIVATE selection",
     r"\bEVP_PKEY_fromdata\s*\([^;]*\b(EVP_PKEY_KEYPAIR|EVP_PKEY_PRIVATE_KEY)\b"),
    ("private key selection", r"\bOSSL_KEYMGMT_SELECT_PRIVATE_KEY\b"),
    ("OSSL_DECODER for key pairs",
     r"\bOSSL_DECODER_CTX_new_for_pkey\s*\([^;]*\b(EVP_PKEY_KEYPAIR|EVP_PKEY_PRIVATE_KEY)\b"),
    ("OSSL_PKEY_PARAM_PRIV_KEY", r"\bOSSL_PKEY_PARAM_PRIV_KEY\b"),
    ("EC_KEY_generate_key", r"\bEC_KEY_generate_key\b"),
    ("EC_KEY_set_private_key", r"\bEC_KEY_set_private_key\b"),
    ("RSA/DSA/DH generate", r"\b(RSA|DSA|DH)_generate_key\w*\b"),
    ("OSSL_STORE_open", r"\bOSSL_STORE_open\w*\b"),
    ("ENGINE_load_private_key", r"\bENGINE_load_private_key\b"),
    ("SSL_CTX_use_PrivateKey", r"\bSSL(_CTX)?_use_PrivateKey\w*\b"),
]

COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def strip_comments(text):
    return COMMENT.sub(" ", text)


def violations(text):
    code = strip_comments(text)
    found = []
    for name, rx in FORBIDDEN:
        for m in re.finditer(rx, code, re.S):
            line = code.count("\n", 0, m.start()) + 1
            found.append((name, line))
    return found


def scanned_files():
    for top in ("src", "include"):
        for p in sorted((SOURCE / top).rglob("*")):
            if p.suffix not in (".c", ".h"):
                continue
            rel = p.relative_to(SOURCE)
            if rel.parts[:2] == ("src", "devtoken"):
                continue
            yield rel, p


def test_scanner_detects_forbidden_calls():
    sample = """
        /* EVP_PKEY_keygen in a comment is fine */
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
        EVP_PKEY_keygen_init(c);
        k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        EVP_PKEY_fromdata(ctx, &pk,
                          EVP_PKEY_KEYPAIR, params);
    """
    names = {n for n, _ in violations(sample)}
    assert {"EVP_PKEY_keygen", "PEM_read_*PrivateKey",
            "EVP_PKEY_fromdata with KEYPAIR/PRIVATE selection"} <= names
    ok = "EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params);"
    assert violations(ok) == []


def test_devtoken_is_the_exception():
    # sanity: the scanner does see private-key code where it is allowed
    text = (SOURCE / "src/devtoken/devtoken.c").read_text()
    assert violations(text), "scanner found nothing in the dev token"


def test_no_private_keys_outside_devtoken():
    bad = []
    files = list(scanned_files())
    assert any(rel.name == "custody.c" for rel, _ in files)
    for rel, path in files:
        for name, line in violations(path.read_text(errors="replace")):
            bad.append(f"{rel}:{line}: {name}")
    assert not bad, "private keys created/loaded outside src/devtoken:\n" + "\n".join(bad)
