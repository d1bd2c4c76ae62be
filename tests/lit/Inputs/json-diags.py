"""Reads `npkc --diagnostics-format=json` output on stdin: every line must be
one JSON object with exactly the documented fields and types. Prints one
summary line per diagnostic, then its labels, notes and fix-its, for
FileCheck; exits 1 on the first line that breaks the format."""
import json
import sys

LOCATION = ["file", "line", "column", "end_line", "end_column", "byte_range"]
TOP = ["code", "severity", "message"] + LOCATION + ["labels", "notes", "help", "fixits"]


def where(obj):
    for key in LOCATION:
        assert key in obj, f"missing {key}"
    if obj["file"] is None:
        assert all(obj[k] is None for k in LOCATION), "partial location"
        return "-"
    assert isinstance(obj["line"], int) and isinstance(obj["column"], int)
    begin, end = obj["byte_range"]
    assert 0 <= begin <= end
    name = obj["file"].rsplit("/", 1)[-1]
    return f"{name}:{obj['line']}:{obj['column']}-{obj['end_line']}:{obj['end_column']} bytes {begin}-{end}"


def main():
    count = 0
    for n, line in enumerate(sys.stdin, 1):
        try:
            d = json.loads(line)
        except ValueError as e:
            print(f"line {n} is not JSON: {e}: {line!r}")
            return 1
        assert isinstance(d, dict) and list(d.keys()) == TOP, f"fields {list(d.keys())}"
        assert d["severity"] in ("error", "warning")
        count += 1
        print(f"diag {d['code']} {d['severity']} {where(d)}: {d['message']}")
        for lab in d["labels"]:
            print(f"  label {'primary' if lab['primary'] else 'secondary'} {where(lab)}: {lab['message']}")
        for note in d["notes"]:
            print(f"  note {where(note)}: {note['message']}")
        print(f"  help: {d['help']}")
        for fix in d["fixits"]:
            print(f"  fixit {where(fix)}: {json.dumps(fix['replacement'])}")
    print(f"{count} diagnostics")
    return 0


if __name__ == "__main__":
    sys.exit(main())
