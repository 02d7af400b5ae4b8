#!/usr/bin/env python3
"""Generate the Unicode tables of apr's tokenizers (in apr.h: python3 tools/gen_unicode.py --update apr.h).

The pre-tokenizers of byte-level BPE vocabularies split text with regexes over Unicode
categories (\\p{L}, \\p{N}, \\p{P}, \\p{S}, \\p{M}, \\s). apr implements those regexes as
hand-written scanners; this script produces the compact tables they read:

  apr__ucat_ranges[]   sorted (first code point << 3 | category) for every run of code
                       points with the same category; category 0 is "other" (C*, Z*, and
                       unassigned), 1 L, 2 N, 3 P, 4 S, 5 M
  apr__ucat_ascii[]    the same categories for U+0000..U+007F (fast path)
  apr__uws_list[]      White_Space code points (Unicode PropList.txt: a fixed list)
  apr__deepseek_llm_letters[]  the letter class of the deepseek-llm pre-tokenizer regex
                       (a literal class in that tokenizer's regex, not a category)

Usage:
  python3 tools/gen_unicode.py                 print the C tables
  python3 tools/gen_unicode.py --update FILE   replace the text between the markers
                                               "BEGIN GENERATED UNICODE TABLES" and
                                               "END GENERATED UNICODE TABLES" in FILE
"""
import sys
import unicodedata

MAX_CP = 0x110000
CAT = {"L": 1, "N": 2, "P": 3, "S": 4, "M": 5}

# Unicode White_Space property (PropList.txt); fixed since Unicode 6.3.
WHITE_SPACE = list(range(0x09, 0x0E)) + [0x20, 0x85, 0xA0, 0x1680] + \
    list(range(0x2000, 0x200B)) + [0x2028, 0x2029, 0x202F, 0x205F, 0x3000]

# The letter class of the deepseek-llm pre-tokenizer regex "\s?[A-Za-zµÀ-ÖØ-ö...]+",
# as inclusive code point ranges.
DEEPSEEK_LLM_LETTERS = [
    (0x0041, 0x005A), (0x0061, 0x007A), (0x00B5, 0x00B5), (0x00C0, 0x00D6),
    (0x00D8, 0x00F6), (0x00F8, 0x01BA), (0x01BC, 0x01BF), (0x01C4, 0x0293),
    (0x0295, 0x02AF), (0x0370, 0x0373), (0x0376, 0x0377), (0x037B, 0x037D),
    (0x037F, 0x037F), (0x0386, 0x0386), (0x0388, 0x038A), (0x038C, 0x038C),
    (0x038E, 0x03A1), (0x03A3, 0x03F5), (0x03F7, 0x0481), (0x048A, 0x052F),
    (0x0531, 0x0556), (0x10A0, 0x10C5), (0x13A0, 0x13F5), (0x13F8, 0x13FD),
    (0x1C90, 0x1CBA), (0x1CBD, 0x1CBF), (0x1D00, 0x1D2B), (0x1D6B, 0x1D77),
    (0x1D79, 0x1D9A), (0x1E00, 0x1F15), (0x1F18, 0x1F1D), (0x1F20, 0x1F45),
    (0x1F48, 0x1F4D), (0x1F50, 0x1F57), (0x1F59, 0x1F59), (0x1F5B, 0x1F5B),
    (0x1F5D, 0x1F5D), (0x1F5F, 0x1F7D), (0x1F80, 0x1FB4), (0x1FB6, 0x1FBC),
    (0x1FBE, 0x1FBE), (0x1FC2, 0x1FC4), (0x1FC6, 0x1FCC), (0x1FD0, 0x1FD3),
    (0x1FD6, 0x1FDB), (0x1FE0, 0x1FEC), (0x1FF2, 0x1FF4), (0x1FF6, 0x1FFC),
    (0x2102, 0x2102), (0x2107, 0x2107), (0x210A, 0x2113), (0x2115, 0x2115),
    (0x2119, 0x211D), (0x2124, 0x2124), (0x2126, 0x2126), (0x2128, 0x2128),
    (0x212A, 0x212D), (0x212F, 0x2134), (0x2139, 0x2139), (0x213C, 0x213F),
    (0x2145, 0x2149), (0x214E, 0x214E), (0x2183, 0x2184), (0x2C00, 0x2C7B),
    (0x2C7E, 0x2CE4), (0x2CEB, 0x2CEE), (0x2CF2, 0x2CF3), (0xA640, 0xA66D),
    (0xA680, 0xA69B), (0xA722, 0xA76F), (0xA771, 0xA787), (0xA78B, 0xA78E),
    (0xAB70, 0xABBF), (0xFB00, 0xFB06), (0xFB13, 0xFB17), (0xFF21, 0xFF3A),
    (0xFF41, 0xFF5A), (0x10400, 0x1044F), (0x104B0, 0x104D3), (0x104D8, 0x104FB),
    (0x10C80, 0x10CB2), (0x10CC0, 0x10CF2), (0x118A0, 0x118DF), (0x1E900, 0x1E943),
]

BEGIN = "BEGIN GENERATED UNICODE TABLES"
END = "END GENERATED UNICODE TABLES"


def category(cp):
    return CAT.get(unicodedata.category(chr(cp))[0], 0)


def hex_rows(values, per_row, fmt):
    rows = []
    for i in range(0, len(values), per_row):
        rows.append("    " + ", ".join(fmt % v for v in values[i:i + per_row]) + ",")
    return "\n".join(rows)


def generate():
    ranges = []
    prev = None
    for cp in range(MAX_CP):
        c = category(cp)
        if c != prev:
            ranges.append((cp << 3) | c)
            prev = c
    ascii_cats = [category(cp) for cp in range(128)]
    out = []
    out.append("/* %s (tools/gen_unicode.py, Python unicodedata %s): do not edit */"
               % (BEGIN, unicodedata.unidata_version))
    out.append("#define APR__UC_OTHER 0\n#define APR__UC_L 1\n#define APR__UC_N 2\n"
               "#define APR__UC_P 3\n#define APR__UC_S 4\n#define APR__UC_M 5")
    out.append("static const uint8_t apr__ucat_ascii[128] = {")
    out.append(hex_rows(ascii_cats, 32, "%d"))
    out.append("};")
    out.append("static const uint32_t apr__ucat_ranges[%d] = {" % len(ranges))
    out.append(hex_rows(ranges, 8, "0x%07x"))
    out.append("};")
    out.append("static const uint32_t apr__uws_list[%d] = {" % len(WHITE_SPACE))
    out.append(hex_rows(WHITE_SPACE, 10, "0x%04x"))
    out.append("};")
    flat = [v for r in DEEPSEEK_LLM_LETTERS for v in r]
    out.append("static const uint32_t apr__deepseek_llm_letters[%d][2] = {" % len(DEEPSEEK_LLM_LETTERS))
    out.append("\n".join("    " + " ".join("{0x%05x, 0x%05x}," % (flat[i + 2 * k], flat[i + 2 * k + 1])
                                            for k in range(min(4, (len(flat) - i) // 2)))
                         for i in range(0, len(flat), 8)))
    out.append("};")
    out.append("/* %s */" % END)
    return "\n".join(out) + "\n"


def main():
    text = generate()
    if len(sys.argv) == 3 and sys.argv[1] == "--update":
        path = sys.argv[2]
        src = open(path, encoding="utf-8").read()
        a = src.index("/* " + BEGIN)
        b = src.index(END + " */", a) + len(END + " */\n")
        open(path, "w", encoding="utf-8").write(src[:a] + text + src[b:])
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
