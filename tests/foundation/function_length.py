#!/usr/bin/env python3
"""Fails when a function body in the library sources runs past --max lines (default 80).

Usage: function_length.py [--max N] [--exempt FILE] [--list] ROOT

Scans ROOT/{base,collectives,partitioner,orchestrator,python}/**/*.{h,cc}. A function is counted
from the first line of its declaration to its closing brace. Functions named in --exempt
("path:Name" lines, # comments) are reported but do not fail the check.

Why a brace counter and not clang tooling: libclang's Python bindings are not installed here, and
this codebase is Google-style C++ whose function bodies a brace counter finds reliably once
comments, string and character literals (raw strings included) and preprocessor lines are blanked.
Lambdas and local classes count as part of the function that holds them.
"""
import argparse
import pathlib
import re
import sys

DIRS = ("base", "collectives", "partitioner", "orchestrator", "python")

# What may follow a function's parameter list before its body.
QUALIFIERS = re.compile(
    r"(\s+|const\b|override\b|final\b|mutable\b|noexcept\b(\s*\([^()]*\))?|&&?|"
    r"ABSL_\w+\s*\([^()]*\)|->[^;{}]*$)$")
NAME = re.compile(r"((?:[A-Za-z_~][\w]*(?:<[^()]*>)?::)*(?:operator\s*[^\s(]+|[A-Za-z_~]\w*))\s*\(")


def blank(text):
    """Comments, literals and preprocessor lines become spaces; newlines are kept."""
    out = []
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if line_start and c == "#":
            # A preprocessor directive, with its backslash continuations.
            while i < n and not (text[i] == "\n" and text[i - 1] != "\\"):
                out.append("\n" if text[i] == "\n" else " ")
                i += 1
            continue
        if c == "\n":
            line_start = True
            out.append(c)
            i += 1
            continue
        if not c.isspace():
            line_start = False
        if text.startswith("//", i):
            while i < n and text[i] != "\n":
                out.append(" ")
                i += 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.extend("\n" if ch == "\n" else " " for ch in text[i:end])
            i = end
            continue
        raw = re.match(r'(?:u8|u|U|L)?R"([^()\\ ]{0,16})\(', text[i:i + 24])
        if raw and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            close = ")" + raw.group(1) + '"'
            end = text.find(close, i + raw.end())
            end = n if end < 0 else end + len(close)
            out.append('""')
            out.extend("\n" if ch == "\n" else " " for ch in text[i + 2:end])
            i = end
            continue
        if c in "\"'":
            # A digit separator (1'000) is not a character literal.
            if c == "'" and i > 0 and text[i - 1].isalnum() and i + 1 < n and text[i + 1].isalnum():
                out.append(" ")
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * max(0, min(j, n) - i - 1) + (c if j < n else ""))
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def kind_of(header):
    """What a '{' opens, judged by the text since the previous ';', '{' or '}'."""
    h = header.strip()
    if re.search(r"\bnamespace\b", h) or re.match(r'extern\s+""$', h):
        return "namespace", None
    # A constructor's initializer list: ") : a_(x), b_{y}". A '{' right after a member's name
    # is that member's brace initializer, not the body.
    stripped = h
    init = re.search(r"\)\s*(?:noexcept\s*)?:\s*[\w:]+\s*[({]", h + "{")
    if init:
        if re.search(r"[\w>]$", h):
            return "init", None
        stripped = h[:init.start() + 1]
    # Strip qualifiers after the parameter list, then a function's header ends with ')'.
    while True:
        m = QUALIFIERS.search(stripped)
        if not m or m.start() == len(stripped):
            break
        stripped = stripped[:m.start()]
    if stripped.endswith(")") and not re.search(r"=\s*$|\b(if|for|while|switch|catch|return)\s*\(",
                                                stripped):
        m = NAME.search(stripped)
        if m and m.group(1) not in ("if", "for", "while", "switch", "catch", "sizeof", "decltype"):
            return "function", m.group(1)
    m = re.search(r"\b(class|struct|union)\s+(?:\w+\s+)*?([A-Za-z_]\w*)\s*(?:final\s*)?(?::[^;{}]*)?$",
                  h)
    if m and "=" not in h and "(" not in h:
        return "class", m.group(2)
    return "other", None


def functions(path):
    """(name, first line, last line) of every function body in a file."""
    text = blank(path.read_text(encoding="utf-8", errors="replace"))
    found = []
    stack = []  # (kind, name, first line)
    header_start = 0
    line = 1
    for i, c in enumerate(text):
        if c == "\n":
            line += 1
        if c not in "{};":
            continue
        inside_function = any(k == "function" for k, _, _ in stack)
        if c == "{":
            if inside_function or (stack and stack[-1][0] in ("other", "init")):
                stack.append(("other", None, line))
            else:
                header = text[header_start:i]
                kind, name = kind_of(header)
                # The first line of the header that holds code.
                offset = len(header) - len(header.lstrip())
                first = line - header[offset:].count("\n")
                if kind == "function":
                    classes = [s[1] for s in stack if s[0] == "class"]
                    if classes and "::" not in name:
                        name = "::".join(classes + [name])
                stack.append((kind, name, first))
        elif c == "}" and stack:
            kind, name, first = stack.pop()
            if kind == "function":
                found.append((name, first, line))
            if kind == "init":
                continue  # the constructor's header goes on
        if not any(k in ("function", "init") for k, _, _ in stack):
            header_start = i + 1
    return found


SELF_TEST = r'''#include <x>
#define BRACES(x) { x }
namespace a {
namespace {
const char* kText = R"json({"a": {"b": "}"}})json";  // } in a comment
struct Point {
  int x{0};
  int Get() const { return x; }
};
}  // namespace
Foo::Foo(int v) : v_(v), w_{'}'} {
  auto f = [&](int y) {
    if (y) { return y; }
    return 1'000;
  };
}
std::vector<int> Long(int n)
    noexcept {
  /* { */
  n += 1;
  n += 2;
}
}  // namespace a
'''
SELF_EXPECTED = [("Point::Get", 8, 8), ("Foo::Foo", 11, 16), ("Long", 17, 22)]


def self_test():
    """The counter on a file of the constructs that could fool it."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "t.cc"
        path.write_text(SELF_TEST)
        got = functions(path)
    if got != SELF_EXPECTED:
        print(f"function_length self-test: got {got}, expected {SELF_EXPECTED}", file=sys.stderr)
        return 1
    return 0


def main():
    if self_test() != 0:
        return 1
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("--max", type=int, default=80)
    parser.add_argument("--exempt", help="file of path:Name lines that may stay long for now")
    parser.add_argument("--list", action="store_true", help="print every function over --max/2")
    args = parser.parse_args()
    root = pathlib.Path(args.root)
    exempt = set()
    if args.exempt:
        for raw in pathlib.Path(args.exempt).read_text().splitlines():
            entry = raw.split("#", 1)[0].strip()
            if entry:
                exempt.add(entry)
    files = sorted(p for d in DIRS for ext in ("*.h", "*.cc") for p in (root / d).rglob(ext))
    if not files:
        print(f"function_length: no sources under {root}", file=sys.stderr)
        return 2
    failures, seen_exempt, count = [], set(), 0
    for path in files:
        rel = path.relative_to(root).as_posix()
        for name, first, last in functions(path):
            count += 1
            length = last - first + 1
            key = f"{rel}:{name}"
            if args.list and length > args.max // 2:
                print(f"{length:5d}  {key} (line {first})")
            if length <= args.max:
                continue
            if key in exempt:
                seen_exempt.add(key)
                print(f"exempt: {key} (line {first}) has {length} lines")
            else:
                failures.append(f"{rel}:{first}: {name} has {length} lines (at most {args.max})")
    for key in sorted(exempt - seen_exempt):
        print(f"note: {key} is within {args.max} lines or gone: remove it from {args.exempt}")
    for f in failures:
        print(f, file=sys.stderr)
    print(f"function_length: {count} functions in {len(files)} files, {len(failures)} over "
          f"{args.max} lines")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
