#!/usr/bin/env python3
"""Checks every citation of the project's docs (the syntax is described at the top
of docs/algorithms.md).

usage: doc_citations.py ROOT     (prints one PASS/FAIL line per file with citations)

A citation is `docs/<NAME>.md`, optionally followed by section references
`§REF`, chained with ", " or " and " (`docs/algorithms.md §1, §5`). REF is a
heading's number (`§2`, `§2.3`, matching `## 2.` / `### 2.3`) or the start of
a heading's title (`§GGUF`, `§Tensor names`, case-insensitive). Every cited
file must exist under ROOT/docs and every REF must resolve to a heading of it.
Also refused, so that one syntax is used everywhere: a bare `<NAME>.md §` without
the `docs/` prefix, and "section N" spelled out after a cited file.
"""
import os
import re
import sys

SCAN_DIRS = ["src", "include", "tests", "docs", "scripts", "bench"]
SCAN_FILES = ["README.md", "Makefile"]
EXTS = (".c", ".h", ".sh", ".py", ".js", ".md", ".txt")
OUR_DOCS = r"(?:algorithms|formats|architecture|testing|config|data|objectives|masks|families|routes|tokenizers|benchmarks|[a-z_]+)"

CITE = re.compile(r"docs/([A-Za-z0-9_.-]+?)\.md")
REF = re.compile(r"§\s?")
CHAIN = re.compile(r"(?:,\s*|\s+and\s+)§")
BARE = re.compile(r"(?<![/\w-])([a-z_]+)\.md(?:'s)?\s+§")
WORDY = re.compile(r"docs/[A-Za-z0-9_.-]+\.md\s+sections?\s+\d")


def headings(path):
    out = []
    with open(path, encoding="utf-8") as f:
        fence = False
        for line in f:
            if line.startswith("```"):
                fence = not fence
            if fence:
                continue
            m = re.match(r"#{1,6}\s+(.*?)\s*$", line)
            if not m:
                continue
            text = m.group(1)
            n = re.match(r"(\d+(?:\.\d+)*)\.?\s+(.*)", text)
            out.append((n.group(1), n.group(2)) if n else (None, text))
    return out


def resolves(rest, heads):
    """rest: the text right after a §; True if it starts with a heading's number or title."""
    for num, title in heads:
        if num and rest.startswith(num):
            after = rest[len(num):]
            if not (after[:1].isdigit() or re.match(r"\.\d", after)):
                return True
        t = title.strip("`*\"")
        if t and rest.lower().startswith(t.lower()):
            after = rest[len(t):]
            if not (after[:1].isalnum()):
                return True
        # a title cited by its first word(s): "§GGUF" for "GGUF v3"
        if t and not rest[:1].isdigit():
            word = re.match(r"[A-Za-z][\w.+-]*(?:\s[A-Za-z][\w+-]*)*", rest)
            if word:
                w = word.group(0).rstrip(".")
                # the longest prefix of the cited words that starts the title on a word boundary
                parts = w.split()
                for k in range(len(parts), 0, -1):
                    cand = " ".join(parts[:k]).rstrip(".,;:)")
                    tl, cl = t.lower(), cand.lower()
                    if tl == cl or (tl.startswith(cl) and not tl[len(cl)].isalnum()):
                        return True
    return False


def check_file(root, rel, cache):
    errors = []
    count = 0
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    for ln, line in enumerate(lines, 1):
        for m in WORDY.finditer(line):
            errors.append("%s:%d: write sections as §N: %s" % (rel, ln, m.group(0)))
        for m in BARE.finditer(line):
            errors.append("%s:%d: cite as docs/%s.md with the docs/ prefix" % (rel, ln, m.group(1)))
        for m in CITE.finditer(line):
            name = m.group(1) + ".md"
            count += 1
            target = os.path.join(root, "docs", name)
            if not os.path.isfile(target):
                errors.append("%s:%d: docs/%s does not exist" % (rel, ln, name))
                continue
            if target not in cache:
                cache[target] = headings(target)
            pos = m.end()
            r = REF.match(line, pos) if line[pos:pos + 1] == " " and line[pos + 1:pos + 2] == "§" else None
            if line[pos:pos + 2] == " §":
                pos += 2
                while True:
                    rest = line[pos:]
                    if not resolves(rest, cache[target]):
                        errors.append("%s:%d: docs/%s §%s: no such section" % (rel, ln, name, rest[:30]))
                    nxt = CHAIN.match(line, pos + len(re.match(r"[^,;)]*?(?=,\s*§|\s+and\s+§|[,;)]|$)", rest).group(0)))
                    if not nxt:
                        break
                    pos = nxt.end()
                    count += 1
    return count, errors


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    files = [f for f in SCAN_FILES if os.path.isfile(os.path.join(root, f))]
    for d in SCAN_DIRS:
        for dp, dn, fn in os.walk(os.path.join(root, d)):
            dn[:] = [x for x in dn if x not in ("node_modules", "corpus", "regress")]
            for f in fn:
                if f.endswith(EXTS):
                    files.append(os.path.relpath(os.path.join(dp, f), root))
    cache = {}
    total = 0
    bad = []
    for rel in sorted(files):
        n, errs = check_file(root, rel, cache)
        total += n
        bad += errs
    for e in bad:
        print("FAIL doc_citation: %s" % e)
    if not bad:
        print("PASS doc_citations: %d citations in %d files resolve" % (total, len(files)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
