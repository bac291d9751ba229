"""Fixtures for the attack suite (tests/security): the same real daemon as
the end-to-end suite.  This file loads tests/e2e/conftest.py under another
module name and re-exports what it defines (Instance, the instance and
seald fixtures, assert_error, ...), so a test here can also import the
e2e helpers (test_seals.Seals and the like) from tests/e2e.

Tests here attack the daemon from outside, as an anonymous or hostile
caller would, and assert what it may cost: refusals, bounded memory,
others still served.  Speed is never asserted here; figures a test
reads (RSS, latency) are printed for the closing note and bench/.
"""
import importlib.util
import os
import sys

E2E = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e")
sys.path.insert(0, E2E)
_spec = importlib.util.spec_from_file_location(
    "e2e_conftest", os.path.join(E2E, "conftest.py"))
_e2e = importlib.util.module_from_spec(_spec)
sys.modules["e2e_conftest"] = _e2e
_spec.loader.exec_module(_e2e)
globals().update({k: v for k, v in vars(_e2e).items() if not k.startswith("_")})
