#!/usr/bin/env python3
"""Differential test of npkc's own LLVM passes (compiler/opt/).

Generates programs whose shapes those passes rewrite -- `pass a + f(...)`
recursion (one call and two, one site and two), loops over
`invariant + counter` and `invariant - counter` (int64 and int32), a
matmul-like nest `c[i * m + j] += aik * b[k * m + j]` over wild memory, an
if/else with a checked product on one side -- with operands and constants
at the edges of the types, builds each at -O0 (no pass runs) and -O2, runs
both on the same inputs and requires the same standard output, standard
error and exit status: the same values, the same trap with the same
operands, after the same effects (failsafe prints a count of them and the
sum of the nest's memory as it was when the program trapped).

usage: differential.py NPKC [--programs N] [--seed S] [--keep DIR]
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile

MAX = 2**63 - 1
MIN = -(2**63)
EDGES = [0, 1, 2, 3, 7, -1, -2, -3, MAX, MAX - 1, MAX - 2, MIN, MIN + 1, MIN + 2,
         MAX // 3, MAX // 3 + 1, -(MAX // 3), -(MAX // 3) - 1, 2**62, -(2**62), 2**31, 2**32, 10**18, -(10**18),
         2**62 - 2**36, -(2**62) + 2**36, MAX // 3 - 2**36]


def lit(v):
    """A literal for v: the minimum has no literal of its own."""
    if v == MIN:
        return "(-9223372036854775807 - 1)"
    return f"({v})" if v < 0 else str(v)


def expr(rng, names, depth=0):
    """A random checked int64 expression over names."""
    if depth >= 2 or rng.random() < 0.35:
        if rng.random() < 0.6:
            return rng.choice(names)
        return lit(rng.choice(EDGES) if rng.random() < 0.5 else rng.randint(-9, 9))
    op = rng.choice(["+", "-", "*", "+", "-"])
    return f"({expr(rng, names, depth + 1)} {op} {expr(rng, names, depth + 1)})"


def program(rng):
    step = rng.choice([1, 1, 2])
    a = expr(rng, ["n", "p"])
    base = expr(rng, ["n", "p"])
    if rng.random() < 0.5:
        a = "t"  # a term that changes with n's parity (both signs, say)
    if rng.random() < 0.5:
        body = f"pass {a} + raw rec(n - {step}, p);"
    else:
        body = f"pass raw rec(n - {step}, p) + {a};"
    if rng.random() < 0.3:  # a second site
        body = f"if (n % 3 == 0) {{ pass {expr(rng, ['n', 'p'])} + raw rec(n - 1, p); }}\n    " + body
    other = expr(rng, ["n", "p"])
    term = expr(rng, ["n", "p"])
    twice_a = expr(rng, ["n", "p"])
    if rng.random() < 0.5:
        twice = f"pass {twice_a} + raw twice(n - 1, p) + raw twice(n - 2, p);"
    else:
        twice = f"pass raw twice(n - 1, p) + raw twice(n - 2, p) + {twice_a};"
    k = rng.choice([3, 5, 9, 7, -3, 2])
    d = lit(rng.choice([1, -1, 0, 5, MAX, MIN]))
    walk_op = rng.choice(["+", "-"])
    walk_scale = rng.choice(["j", "j", "(j * 2)"])
    down = rng.random() < 0.4
    loop = ("for (int64:j = n; j > 0; j -= 1)" if down else "for (int64:j = 0; j < n; j += 1)")
    e32 = lit(rng.choice([0, 1, -1, 2**31 - 1, 2**31 - 3, -(2**31), -(2**31) + 2, 2**30, 7]))
    scale = rng.choice(["aik", "3", "aik"])
    return f"""extern func:atoll = int64(string:s);

int64:effects = 0;
int64->:grid = NULL;
int64:cells = 0;

func:failsafe = int32(tbb32:err) {{
    int64:sum = 0;
    for (int64:i = 0; i < cells; i += 1) {{ sum = sum +% grid[i]; }}
    println(`effects &{{effects}} grid &{{sum}}`);
    exit 3;
}};

func:walk32 = int32(int32:base, int32:n) {{
    int32:s = 0i32;
    for (int32:j = 0i32; j < n; j += 1i32) {{
        effects = effects +% 1;
        s = s +% (base + j);
    }}
    pass s;
}};

// c[i * m + j] += aik * b[k * m + j] over wild memory, the effects (stores)
// visible to failsafe.
func:nest = int64(int64:m, int64:seed) {{
    wild int64->:b = alloc(8 * m * m);
    defer free(b);
    wild int64->:c = alloc(8 * m * m);
    defer free(c);
    for (int64:i = 0; i < m * m; i += 1) {{ b[i] = seed +% i *% {e32}; c[i] = i; }}
    grid = c;
    cells = m * m;
    for (int64:i = 0; i < m; i += 1) {{
        for (int64:k = 0; k < m; k += 1) {{
            int64:aik = (i + k) % 5 - 2;
            for (int64:j = 0; j < m; j += 1) {{
                c[i * m + j] += {scale} * b[k * m + j];
            }}
        }}
    }}
    int64:sum = 0;
    for (int64:i = 0; i < m * m; i += 1) {{ sum = sum +% c[i]; }}
    grid = NULL;
    cells = 0;
    pass sum;
}};

func:rec = int64(int64:n, int64:p) {{
    if (n <= 0) {{ pass {base}; }}
    int64:t = {term};
    if (n % 2 == 0) {{ t = {other}; }}
    {body}
}};

func:twice = int64(int64:n, int64:p) {{
    if (n < 2) {{ pass n +% p; }}
    {twice}
}};

func:walk = int64(int64:base, int64:n) {{
    int64:s = 0;
    {loop} {{
        effects = effects +% 1;
        s = s +% (base {walk_op} {walk_scale});
    }}
    pass s;
}};

func:hop = int64(int64:x, int64:n) {{
    int64:steps = 0;
    while (steps < n) {{
        if (x % 2 == 0) {{ x = x / 2; }} else {{ x = {k} * x + {d}; }}
        steps += 1;
        effects = effects +% 1;
    }}
    pass x;
}};

func:main = int32() {{
    int64:a = atoll(get_argv(0));
    int64:b = atoll(get_argv(1));
    int64:c = atoll(get_argv(2));
    int64:which = atoll(get_argv(3));
    if (which == 0) {{ println(`rec &{{raw rec(c, a)}} &{{raw rec(c / 2, b)}}`); }}
    if (which == 1) {{ println(`twice &{{raw twice(c % 16, a)}}`); }}
    if (which == 2) {{ println(`walk &{{raw walk(a, c)}} &{{raw walk(b, c)}}`); }}
    if (which == 3) {{ println(`hop &{{raw hop(b, c)}} &{{raw hop(a, c)}}`); }}
    if (which == 4) {{ println(`walk32 &{{raw walk32((a % 2147483648) => int32, c => int32)}}`); }}
    if (which == 5) {{ println(`nest &{{raw nest(c % 12, a)}}`); }}
    exit 0;
}};
"""


def run(exe, args):
    p = subprocess.run([exe] + [str(x) for x in args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("npkc")
    ap.add_argument("--programs", type=int, default=int(os.environ.get("N", "40")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SEED", "1")))
    ap.add_argument("--keep")
    opts = ap.parse_args()
    rng = random.Random(opts.seed)
    work = opts.keep or tempfile.mkdtemp(prefix="npk-opt-diff-")
    os.makedirs(work, exist_ok=True)
    failures = 0
    runs = 0
    built = 0
    trapped = 0
    for i in range(opts.programs):
        src = os.path.join(work, f"p{i}.npk")
        with open(src, "w") as f:
            f.write(program(rng))
        exes = {}
        for level in ("-O0", "-O2"):
            exe = os.path.join(work, f"p{i}{level}")
            b = subprocess.run([opts.npkc, "build", level, src, "-o", exe], capture_output=True, text=True, timeout=120)
            if b.returncode != 0 and "NPK-T011" in b.stderr:
                break  # a constant part overflows: the checker's error, as it should be
            if b.returncode != 0:
                print(f"{src}: npkc build {level} failed:\n{b.stderr}")
                failures += 1
                break
            exes[level] = exe
        if len(exes) != 2:
            continue
        built += 1
        for _ in range(12):
            args = [rng.choice(EDGES) if rng.random() < 0.5 else rng.randint(-50, 50),
                    rng.choice(EDGES) if rng.random() < 0.5 else rng.randint(-10**6, 10**6),
                    rng.choice([0, 1, 2, 5, 17, 200, 1000]), rng.randint(0, 5)]
            o0 = run(exes["-O0"], args)
            o2 = run(exes["-O2"], args)
            runs += 1
            trapped += o0[0] != 0
            if o0 != o2:
                failures += 1
                print(f"{src} {' '.join(map(str, args))}: -O0 and -O2 differ")
                print(f"  -O0: status {o0[0]}\n{o0[1]}{o0[2]}")
                print(f"  -O2: status {o2[0]}\n{o2[1]}{o2[2]}")
    print(f"{opts.programs} programs ({built} compiled), {runs} runs ({trapped} trapped), {failures} differences (seed {opts.seed}, in {work})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
