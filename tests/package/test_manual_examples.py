"""The manual's shell examples paste after the README's walkthrough (issue
19 item 10): every variable a ```sh block of docs/manual.md reads is set
by the README's walkthrough or by an earlier block of the manual (or is one
of the build's environment variables), and every block is valid bash.

Environment: SEALD_SOURCE_DIR.
"""
import os
import re
import subprocess

TOP = os.environ["SEALD_SOURCE_DIR"]
# read from the environment by the build examples, set by nobody here
ENVIRONMENT = {"CFLAGS", "CPPFLAGS", "LDFLAGS", "HOME", "PATH", "PWD"}


def blocks(path):
    """(line, text) of each sh, bash or unlabelled fenced block."""
    out, cur, lang, start = [], None, None, 0
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        m = re.match(r"^\s*```(\w*)\s*$", line)
        if m and cur is None:
            cur, lang, start = [], m.group(1), n
        elif m:
            if lang in ("sh", "bash", ""):
                out.append((start, "".join(cur)))
            cur = None
        elif cur is not None:
            cur.append(line)
    return out


def assigned(code):
    """The variables code sets: assignments, for loops, read, and the
    README's eval of ${r^^} over a role list."""
    names = set(re.findall(r"(?:^|[\s;(])(?:export\s+|local\s+)?"
                           r"([A-Za-z_]\w*)=", code, re.M))
    names |= set(re.findall(r"\bfor\s+([A-Za-z_]\w*)\s+in\b", code))
    for words in re.findall(r"\bread\s+((?:-\w+\s+)*(?:[A-Za-z_]\w*[ \t]*)+)",
                            code):
        names |= {w for w in words.split() if not w.startswith("-")}
    m = re.search(r"for r in ([a-z ]+); do", code)
    if m and "${r^^}" in code:
        for role in m.group(1).split():
            names |= {role.upper(), role.upper() + "_ID"}
    return names


def used(code):
    return set(re.findall(r"\$\{?([A-Za-z_]\w*)", code))


def test_every_variable_is_set_before_use():
    known = set(ENVIRONMENT)
    for _, code in blocks(os.path.join(TOP, "README.md")):
        known |= assigned(code)
    missing = []
    for line, code in blocks(os.path.join(TOP, "docs/manual.md")):
        known |= assigned(code)
        missing += [f"manual.md:{line}: ${v}" for v in sorted(used(code) -
                                                             known)]
    assert missing == []


def test_every_block_is_valid_bash():
    bad = []
    for line, code in blocks(os.path.join(TOP, "docs/manual.md")):
        p = subprocess.run(["bash", "-n"], input=code, text=True,
                           capture_output=True)
        if p.returncode != 0:
            bad.append(f"manual.md:{line}: {p.stderr.strip()}")
    assert bad == []
