"""The package lists agree (issue 19 item 10): every package scripts/deps
installs is named in the manual's section 1.1, every package 1.1 names is
one scripts/deps installs, and every library scripts/deps builds with
(-dev) is in debian/control's Build-Depends, so that the manual, the
README's set-up command and the Debian package cannot drift apart.

Environment: SEALD_SOURCE_DIR.
"""
import os
import re

TOP = os.environ["SEALD_SOURCE_DIR"]


def deps_packages():
    """array name -> packages, from the bash arrays in scripts/deps."""
    text = open(os.path.join(TOP, "scripts/deps"), encoding="utf-8").read()
    arrays = {}
    for m in re.finditer(r"^(\w+_pkgs)=\((.*?)\)", text, re.S | re.M):
        words = re.sub(r"#[^\n]*", "", m.group(2)).split()
        arrays[m.group(1)] = words
    assert {"build_pkgs", "test_pkgs"} <= set(arrays), arrays.keys()
    return arrays


def manual_packages():
    """The backquoted words of manual 1.1 that look like packages."""
    text = open(os.path.join(TOP, "docs/manual.md"), encoding="utf-8").read()
    sec = text[text.index("### 1.1 Install"):text.index("#### The Debian "
                                                         "package")]
    names = set()
    for q in re.findall(r"`([^`]+)`", sec):
        if q.startswith(("scripts/", "-", "seald ", "docs.")):
            continue
        names.update(q.split())
    return names


def build_depends():
    text = open(os.path.join(TOP, "debian/control"), encoding="utf-8").read()
    field = re.search(r"^Build-Depends:(.*?)(?=^\S)", text, re.S | re.M)
    return {re.split(r"[\s(]", d.strip())[0]
            for d in field.group(1).split(",") if d.strip()}


def test_manual_names_what_scripts_deps_installs():
    arrays = deps_packages()
    installed = {p for words in arrays.values() for p in words}
    named = manual_packages()
    assert sorted(installed - named) == [], "scripts/deps installs these " \
        "but manual 1.1 does not name them"
    assert sorted(named - installed) == [], "manual 1.1 names these but " \
        "scripts/deps does not install them"


def test_build_depends_cover_the_libraries():
    libs = {p for p in deps_packages()["build_pkgs"] if p.endswith("-dev")}
    assert sorted(libs - build_depends()) == []
