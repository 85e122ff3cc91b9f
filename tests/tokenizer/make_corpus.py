#!/usr/bin/env python3
"""Writes the tokenizer test corpus into OUT_DIR (a build directory, never the repo).

usage: make_corpus.py OUT_DIR [SHARED_DATA_DIR]

Each case is one file OUT_DIR/<name>.txt; OUT_DIR/manifest.tsv lists
"name<TAB>path<TAB>utf8" (utf8 = 1 if the bytes are valid UTF-8). Large shared
files (tinyshakespeare) are referenced by path, not copied. Everything is
deterministic (fixed seed).

Characters whose meaning differs between the engines are left out of the
random cases: U+0085 and U+FEFF (Python's \\s vs JavaScript's \\s) and code
points newer than Unicode 14 (PCRE2 10.42's tables).
"""
import os
import random
import sys

CASES = {
    "hello": "Hello world",
    "empty": "",
    "one_space": " ",
    "cjk": "日本語のテキストです。中文文本，繁體中文。한국어 텍스트입니다. 漢字かなカナ交じり文",
    "emoji": "I ❤️ 🍕! 😀😃😄 👍🏽👍🏿 🇫🇷🇯🇵 🤷‍♀️ ✌🏻 🙂\n",
    "zwj": "👨‍👩‍👧‍👦 👩‍❤️‍💋‍👨 🏳️‍🌈 🏴‍☠️ 👁️‍🗨️ 🧑🏽‍💻\u200d\u200c a\u200db",
    "combining": "e\u0301 a\u0300\u0301\u0302 n\u0303 Z\u0351\u0352\u0353\u0354a\u0355\u0356l\u0357\u0358g\u0359o "
                 "क्षत्रिय हिन्दी ภาษาไทย ﬁ ǅ ẛ̣ Å Å",
    "rtl": "שלום עולם! مرحبا بالعالم. \u200fעברית\u200e English \u202bembedded\u202c فارسی ۱۲۳",
    "spaces": "a  b   c    d     e\n  x  \n\n\n   \t\t  y\t \t z \r\n\r\n  ",
    "space_runs": " " * 50 + "word" + " " * 3 + "\n" * 10 + "\t" * 7 + "end" + " " * 9,
    "leading_trailing": "   leading and trailing   ",
    "unicode_spaces": "a\u00a0b\u3000c\u2009d\u2002e\u202f f\u2028g\u2029h\u1680i \u00a0 j\u000bk\u000cl",
    "contractions": "I'm you're he's she'll we've they'd it's can't won't don't I'M YOU'RE HE'S "
                    "SHE'LL WE'VE THEY'D IT'S CAN'T Don'T 's 't 're 've 'm 'll 'd ''s '''",
    "digits": "0 1 12 123 1234 12345 123456789012345678901234567890 3.14159 1,000,000 -42 +7 "
              "0x1F 1e-10 ١٢٣٤ ۱۲۳ २०२४ ²³ ½ ⅓ Ⅻ ⑦ 𝟙𝟚",
    "punct": "!!! ??? ... --- *** ((())) [[[]]] {{{}}} <<<>>> ''' \"\"\" ``` ~~~ @#$%^&*_+=|\\/ "
             "«» „“ ‘’ — – … · • ¿¡ 。、",
    "code": "def f(x):\n    return x**2  # square\n\nint main(void) { printf(\"%d\\n\", 42); }\n"
            "if (a && b || !c) { x += 1; } else { y -= 2; }\n\tfor i in range(10):\n\t\tpass\n",
    "mixed_scripts": "Привет мир Ελληνικά ქართული Հայերեն ᏣᎳᎩ ⵜⴰⵎⴰⵣⵉⵖⵜ 𐌰𐌱𐌲 mixedСкрипт123abc",
    "newlines": "line1\nline2\r\nline3\rline4\n\n\nline5\n",
    "long_word": "a" * 3000 + " " + "ab" * 700 + " " + "xyz" * 200,
    "long_digits": "9" * 2000,
    "long_punct": "!?" * 1000,
    "latin1": "café naïve façade Ærøskøbing straße ÿ ¡hola! ½ ¼ § ¶ © ® ° ± µ",
    "control": "a\x00b\x01c\x07d\x1be\x7ff",
    "nbsp_words": "\u00a0hello\u00a0\u00a0world \u00a0 x",
}

INVALID = {
    "invalid_lone": b"abc\xffdef",
    "invalid_cont": b"\x80\x81\x82 hello \xbf",
    "invalid_trunc": b"caf\xc3 na\xe2\x82 x\xf0\x9f\x98",
    "invalid_overlong": b"\xc0\xaf \xe0\x80\xaf \xed\xa0\x80 surrogate",
    "invalid_mixed": b"ok \xfe\xff\xfe text \xf8\x88\x80\x80\x80 \xc3\xa9 end",
}

# Code point pools for the random cases (all long-assigned characters).
POOLS = [
    [chr(c) for c in range(0x20, 0x7F)],
    [chr(c) for c in range(0xA0, 0x100) if c != 0xAD] + ["\u00ad"],
    [chr(c) for c in range(0x391, 0x3CA)],             # Greek
    [chr(c) for c in range(0x410, 0x450)],             # Cyrillic
    [chr(c) for c in range(0x4E00, 0x4E00 + 500)],     # CJK
    [chr(c) for c in range(0x3041, 0x3097)],           # Hiragana
    [chr(c) for c in range(0xAC00, 0xAC00 + 300)],     # Hangul
    [chr(c) for c in range(0x5D0, 0x5EB)],             # Hebrew
    [chr(c) for c in range(0x621, 0x64B)],             # Arabic
    [chr(c) for c in range(0x300, 0x370)],             # combining marks
    [chr(c) for c in range(0x1F600, 0x1F650)],         # emoji
    ["\u200d", "\u200c", "\ufe0f", "\U0001F3FB", "\U0001F3FF"],
    [" ", " ", " ", "\n", "\t", "\r", "\u00a0", "\u3000", "\u2003", "\u000b", "\u000c"],
    ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'", "''"],
    [chr(c) for c in range(0x30, 0x3A)] + ["٣", "७", "²", "½", "Ⅻ"],
    [chr(c) for c in range(0x21, 0x30)] + ["…", "—", "“", "”", "·"],
]


def random_text(rng, n):
    out = []
    while len(out) < n:
        pool = rng.choice(POOLS)
        for _ in range(rng.randint(1, 8)):
            out.append(rng.choice(pool))
    return "".join(out)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: make_corpus.py OUT_DIR [SHARED_DATA_DIR]")
    out = sys.argv[1]
    shared = sys.argv[2] if len(sys.argv) > 2 else None
    os.makedirs(out, exist_ok=True)
    rows = []

    def put(name, data, utf8):
        path = os.path.join(out, name + ".txt")
        with open(path, "wb") as f:
            f.write(data)
        rows.append((name, os.path.abspath(path), utf8))

    for name, text in CASES.items():
        put(name, text.encode("utf-8"), 1)
    rng = random.Random(1234)
    for i in range(20):
        put("random_%02d" % i, random_text(rng, rng.randint(50, 2000)).encode("utf-8"), 1)
    for name, data in INVALID.items():
        put(name, data, 0)
    brng = random.Random(99)
    for i in range(5):
        put("random_bytes_%d" % i, bytes(brng.randrange(256) for _ in range(brng.randint(1, 3000))), 0)
    if shared:
        ts = os.path.join(shared, "tinyshakespeare.txt")
        if os.path.exists(ts):
            rows.append(("tinyshakespeare", os.path.abspath(ts), 1))
    with open(os.path.join(out, "manifest.tsv"), "w") as f:
        for name, path, utf8 in rows:
            f.write("%s\t%s\t%d\n" % (name, path, utf8))


if __name__ == "__main__":
    main()
