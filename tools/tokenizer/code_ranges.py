"""Code point ranges for the table generators of tools/tokenizer (gen_special_casing.py,
gen_unicode_additions.py, gen_hf_char_classes.py)."""


def ranges(pred):
    """Sorted inclusive (first, last) runs of the code points c (surrogates skipped) with
    pred(chr(c))."""
    out, start = [], None
    for cp in range(0x110001):
        inside = cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF and pred(chr(cp))
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            out.append((start, cp - 1))
            start = None
    return out


def range_rows(rs):
    """C++ initializer rows of {first, last} pairs, four a line."""
    return ["    " + " ".join(f"{{0x{a:04X}, 0x{b:04X}}}," for a, b in rs[i:i + 4])
            for i in range(0, len(rs), 4)]
