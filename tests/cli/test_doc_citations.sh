#!/usr/bin/env bash
# Every citation of docs/<file>.md (with its § sections) in src/, include/,
# tests/, docs/, scripts/ and bench/ resolves to a section that exists
# (tests/tools/doc_citations.py; the syntax is described at the top of
# docs/algorithms.md). The checker is first shown to catch bad citations in a
# small fixture tree. Usage: test_doc_citations.sh BUILD_DIR
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
chk="$root/tests/tools/doc_citations.py"
if ! command -v python3 > /dev/null; then echo "SKIP doc_citations: python3 not found"; exit 0; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/docs" "$T/src"
printf '# A\n\n## 1. First\n\n### 1.2 Sub part\n\n## GGUF v3\n\n```\n## 9. in a code block\n```\n' > "$T/docs"/a.md
# fixtures spell docs/ as DOCS/ (and a bare a.md as BARE.md) so that this file holds no citation itself
fix() { sed 's#DOCS/#docs/#g; s#BARE\.md#a.md#g'; }
echo '/* DOCS/a.md §1, DOCS/a.md §1.2 and §GGUF, DOCS/a.md §Sub part, DOCS/a.md */' | fix > "$T/src/good.c"
if python3 "$chk" "$T" > "$T/res" 2>&1; then pass doc_citations_checker_accepts; else fail doc_citations_checker_accepts "$(head -3 "$T/res")"; fi
for bad in 'DOCS/a.md §2' 'DOCS/a.md §1.3' 'DOCS/a.md §1, §7' 'DOCS/b.md' 'BARE.md §1' 'DOCS/a.md section 1' \
           'DOCS/a.md §9' 'DOCS/a.md §Third' 'DOCS/a.md §GGUFX'; do
    printf '/* %s */\n' "$bad" | fix > "$T/src/bad.c"
    if python3 "$chk" "$T" > "$T/res" 2>&1; then
        fail doc_citations_checker_refuses "accepted: $bad"
    elif ! grep -q '^FAIL doc_citation: src/bad.c:1' "$T/res"; then
        fail doc_citations_checker_refuses "no line for $bad: $(head -2 "$T/res")"
    fi
done
[ "$failed" = 0 ] && pass doc_citations_checker_refuses
rm "$T/src/bad.c"

python3 "$chk" "$root"
