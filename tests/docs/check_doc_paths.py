#!/usr/bin/env python3
"""Every repository path the documentation names exists.

Scans README.md and docs/**/*.md for
  * paths under the repository's top-level directories (`src/db/engine.cpp`,
    `docs/`, `tests/db/kill9_test.sh:12`), wherever they appear, and
  * relative Markdown link targets (`[x](leaf-index.md)`), resolved from the
    linking file's directory,
and fails naming each one that does not exist. Paths with placeholders
(`*`, `...`, `NNN`, `<x>`, `{a,b}`) are not checked. Usage: check_doc_paths.py [ROOT]
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
TOP = ("src", "include", "docs", "tests", "cli", "scripts", "bench", "examples", "cmake", "tools", ".ci")
# A top-level directory at a word start (not `build/bench/...`, not `rotortree/db.hpp`).
PATH = re.compile(r"(?<![\w./~-])((?:%s)/(?:[\w./+*<>$-]|\{[^}\s]*\})*)" % "|".join(re.escape(t) for t in TOP))
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
PLACEHOLDER = re.compile(r"\*|\.\.\.|…|NNN|<|>|\{|\}|\$")
# Installed or generated files the docs name by their installed path.
GENERATED = {"include/rotortree/version.hpp"}  # from include/rotortree/version.hpp.in


def candidates(text):
    for match in PATH.finditer(text):
        yield match.group(1), None
    for match in LINK.finditer(text):
        target = match.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL, mailto:, or an anchor in the same file
        yield target, "link"


def normalise(path):
    path = path.split("#", 1)[0]
    path = re.sub(r":\d+(-\d+)?$", "", path)  # a line reference
    return path.rstrip(".,:;")


def main():
    files = [ROOT / "README.md"] + (sorted((ROOT / "docs").rglob("*.md")) if (ROOT / "docs").is_dir() else [])
    missing = []
    checked = 0
    for doc in files:
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            for raw, kind in candidates(line):
                if PLACEHOLDER.search(raw):
                    continue
                path = normalise(raw)
                if not path or (kind is None and path in GENERATED):
                    continue
                base = doc.parent if kind == "link" else ROOT
                checked += 1
                if not (base / path).exists():
                    missing.append(f"{doc.relative_to(ROOT)}:{number}: {raw}")
    for entry in missing:
        print(f"missing: {entry}")
    print(f"check_doc_paths: {checked} paths in {len(files)} files, {len(missing)} missing")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
