#!/usr/bin/env python3
"""Writes bytes to a file: write_bytes.py FILE TEXT [REPEAT TEXT2 ...].

Each TEXT may use Python's byte escapes (\\r, \\n, \\0, \\xNN), so a test can
spell line endings, byte order marks and bytes that are not UTF-8. A TEXT
followed by a number is written that many times.
"""
import codecs
import sys

path, parts = sys.argv[1], sys.argv[2:]
with open(path, "wb") as f:
    i = 0
    while i < len(parts):
        data = codecs.escape_decode(parts[i].encode())[0]
        count = 1
        if i + 1 < len(parts) and parts[i + 1].isdigit():
            count = int(parts[i + 1])
            i += 1
        f.write(data * count)
        i += 1
