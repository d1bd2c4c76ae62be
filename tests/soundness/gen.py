#!/usr/bin/env python3
"""Random well-formed Nitpick programs for the ownership soundness oracle.

Each program allocates wild memory, wildx pages and JIT pages in nested
blocks, `if`/`while`/`for`, counted loops (`loop`/`till`, reading `$`),
`when … then … end`, `pick` (values, inclusive and exclusive ranges, `(*)`,
bool selectors, labelled arms and `fall`), with `break`/`continue`, early
`pass`/`fail`/`exit`, `defer`, moves, plain-pointer aliases, factories that
pass ownership out, deallocator wrappers and struct destructors that free a
field, with drop.npk imported or not.
Every program is meant to type-check (the oracle counts one that does not as
a generator bug). The generator
mostly does the right thing (releases what it allocated, once, before the
owner's scope ends) and sometimes, at random, a wrong one: a missing, early,
double or misplaced release, a use after release. The checker decides which
programs are accepted; the oracle (oracle.py) runs them.

usage: gen.py SEED [--drop 0|1]   (prints the program)
"""
import random
import sys

PRELUDE = """\
use "jit.npk".*;
{drop_use}
func:make_buf = wild int8->() {{
    wild int8->:b = alloc(16);
    if (b == NULL) {{ fail 9; }}
    b[0] = 1;
    pass b;
}};

func:buf_free = int32(wild int8->:x) {{
    free(x);
    pass 0;
}};

func:touch = int32(int8->:q) {{
    q[1] = 3;
    pass q[0] => int32;
}};

func:peek2 = int32(int8->:q, int32:unused) {{
    pass q[1] => int32;
}};

func:same = int8->(int8->:q) {{
    pass q;
}};

struct:Holder = {{ int8->:ptr; int32:n; }};

// A struct destructor that releases what its field points to (NPK-O009 when
// tracked memory is stored into one).
struct:Guard = {{ int8->:ptr; }};
impl:Drop:for:Guard = {{
    func:drop = NIL($$m Guard:self) {{
        if (self.ptr != NULL) {{ free(self.ptr); }}
        pass;
    }};
}};
{consume}"""

# Functions that are not deallocators by name yet release their parameter.
CONSUME = """
func:consume = int32(wild int8->:x) {
    free(x);
    pass 0;
};

func:consume_plain = int32(int8->:x) {
    free(x);
    pass 0;
};
"""

MAIN = """
func:main = int32() {{
    int32:k = 0;
    while (k < {runs}) {{
        drop body(k);
        k += 1;
    }}
    exit 0;
}};
"""


class Binding:
    def __init__(self, name, kind, depth):
        self.name = name      # source name
        self.kind = kind      # "wild" | "wildx" | "jit" | "alias"
        self.depth = depth    # scope depth it was declared at
        self.live = True      # the generator's own idea of its state
        self.sealed = False   # wildx only
        self.owner = None     # alias only: the binding it borrows from
        self.ref = name       # alias only: the pointer expression (`a`, or `h.ptr` of a Holder)
        self.deferred = False
        self.scope = 0        # index of its scope in Gen.scopes


class Gen:
    def __init__(self, seed, drop):
        self.rng = random.Random(seed)
        self.drop = drop
        self.counter = 0
        self.scopes = []       # list of lists of Binding
        # what encloses the statement being generated, innermost last:
        # ("loop", scope of its body) for while/for/loop/till/when bodies,
        # ("arm", scope of its body, labels of the later arms) for pick arms
        self.ctx = []
        self.counted = 0       # enclosing loop/till bodies: `$` is valid
        self.lines = []
        self.mistake_rate = self.rng.choice([0.0, 0.05, 0.1, 0.2])
        self.budget = self.rng.randint(6, 28)
        # the code goes in a function `body` called a few times from `main`,
        # or in `main` itself, where `exit` is allowed
        self.in_main = self.rng.random() < 0.3
        self.with_consume = self.rng.random() < 0.15

    # ---- helpers ----
    @property
    def loop_depth(self):
        return sum(1 for c in self.ctx if c[0] == "loop")

    def bind(self, b):
        b.scope = len(self.scopes) - 1
        self.scopes[-1].append(b)

    def fresh(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"

    def emit(self, depth, text):
        self.lines.append("    " * depth + text)

    def visible(self, kinds=None):
        out = [b for scope in self.scopes for b in scope]
        return [b for b in out if kinds is None or b.kind in kinds]

    def mistake(self):
        return self.rng.random() < self.mistake_rate

    def choose(self, items):
        return self.rng.choice(items) if items else None

    # ---- statements ----
    def release(self, depth, b):
        if b.kind == "wild":
            form = self.rng.random()
            if form < 0.6:
                self.emit(depth, f"free({b.name});")
            else:
                self.emit(depth, f"drop buf_free({b.name});")
        elif b.kind == "wildx":
            self.emit(depth, f"wildx_free({b.name});")
        elif b.kind == "jit":
            if self.rng.random() < 0.5:
                self.emit(depth, f"fixed int32:rc{self.fresh('_')} = raw Jit.free({b.name});")
            else:
                self.emit(depth, f"drop Jit.free({b.name});")
        b.live = False

    def use(self, depth, b):
        if self.counted and self.rng.random() < 0.15:
            self.emit(depth, "acc += $;")  # the innermost loop/till's counter
            return
        if b.kind in ("wild", "alias"):
            r = self.rng.random()
            if r < 0.4:
                self.emit(depth, f"{b.ref}[0] = 5;")
            elif r < 0.7:
                self.emit(depth, f"acc += {b.ref}[1] => int32;")
            else:
                self.emit(depth, f"acc += raw touch({b.ref});")
        elif b.kind == "wildx":
            # reads only: a write after a seal faults by design (W^X), which is
            # not what this oracle judges; pages are written right after alloc
            self.emit(depth, f"acc += {b.name}[2] => int32;")
        elif b.kind == "jit":
            self.emit(depth, f"acc += raw Jit.call_i32_i32({b.name}, 1i32, 2i32);")

    def stmt_alloc(self, depth):
        r = self.rng.random()
        if r < 0.4:
            b = Binding(self.fresh("p"), "wild", depth)
            init = "alloc(16)" if self.rng.random() < 0.7 else "raw make_buf()"
            self.emit(depth, f"wild int8->:{b.name} = {init};")
        elif r < 0.7:
            b = Binding(self.fresh("w"), "wildx", depth)
            self.emit(depth, f"wildx int8->:{b.name} = wildx_alloc(64);")
            self.emit(depth, f"{b.name}[2] = 1;")
        else:
            b = Binding(self.fresh("f"), "jit", depth)
            self.emit(depth, f"wildx int8->:{b.name} = raw Jit.compile_add_i32();")
        self.bind(b)
        if self.rng.random() < 0.25:
            b.deferred = True
            b.live = False
            if b.kind == "wild":
                self.emit(depth, f"defer free({b.name});")
            elif b.kind == "wildx":
                self.emit(depth, f"defer {{ wildx_free({b.name}); }}")
            else:
                self.emit(depth, f"defer {{ drop Jit.free({b.name}); }}")

    def stmt_release(self, depth):
        owned = self.visible(("wild", "wildx", "jit"))
        if not owned:
            return self.stmt_alloc(depth)
        live = [b for b in owned if b.live and b.scope == len(self.scopes) - 1 and not b.deferred]
        # releasing a binding of an outer scope inside a loop is a mistake the
        # checker must see; so is releasing twice
        if self.mistake():
            b = self.choose(owned)
        elif live:
            b = self.choose(live)
        else:
            return self.stmt_alloc(depth)
        self.release(depth, b)

    def stmt_use(self, depth):
        cands = self.visible(("wild", "wildx", "jit", "alias"))
        if not cands:
            return self.stmt_alloc(depth)
        good = [b for b in cands if b.live or b.deferred]
        good = [b for b in good if b.kind != "alias" or (b.owner.live or b.owner.deferred)]
        b = self.choose(cands) if self.mistake() or not good else self.choose(good)
        self.use(depth, b)

    def stmt_hazard(self, depth):
        """Shapes an unsound checker would accept: a release inside an argument
        list, an allocation bound to a plain pointer, a parameter consumed by
        a function that is not a deallocator."""
        live = [b for b in self.visible(("wild",)) if b.live and not b.deferred]
        r = self.rng.random()
        if r < 0.4 and live:
            b = self.choose(live)
            self.emit(depth, f"acc += raw peek2({b.name}, raw buf_free({b.name}));")
            b.live = False
        elif r < 0.7:
            name = self.fresh("q")
            self.emit(depth, f"int8->:{name} = alloc(16);")
            if self.rng.random() < 0.5:
                self.emit(depth, f"free({name});")
        elif r < 0.8 and live:
            # a struct destructor frees the binding's memory at the end of an
            # inner block; the binding is released as usual later (a double
            # free the checker must refuse, NPK-O009)
            b = self.choose(live)
            g = self.fresh("g")
            self.emit(depth, "{")
            self.emit(depth + 1, f"Guard:{g} = Guard{{ ptr: {b.name} }};")
            self.emit(depth + 1, f"acc += {g}.ptr[0] => int32;")
            self.emit(depth, "}")
        elif self.with_consume and live:
            b = self.choose(live)
            callee = "consume" if self.rng.random() < 0.5 else "consume_plain"
            self.emit(depth, f"acc += raw {callee}({b.name});")
            if self.rng.random() < 0.5:
                self.release(depth, b)
            b.live = False
        else:
            self.stmt_use(depth)

    def stmt_seal(self, depth):
        # once per page, in the scope that allocated it (a second seal is a
        # refusal by design, not what this oracle judges)
        cands = [b for b in self.scopes[-1] if b.kind == "wildx" and not b.sealed and (b.live or b.deferred)]
        if not cands:
            return self.stmt_alloc(depth)
        b = self.choose(cands)
        self.emit(depth, f"acc += wildx_seal({b.name});")
        b.sealed = True

    def stmt_move(self, depth):
        # out of a binding of the innermost loop body (moving out of an outer
        # one leaves it moved in the next round: a mistake)
        loops = [c[1] for c in self.ctx if c[0] == "loop"]
        floor = loops[-1] if loops and not self.mistake() else 0
        cands = [b for b in self.visible(("wild", "wildx", "jit")) if b.live and not b.deferred and b.scope >= floor]
        if not cands:
            return self.stmt_alloc(depth)
        src = self.choose(cands)
        aliases = self.visible(("alias",))
        r = self.rng.random()
        if r < 0.15 and aliases:
            # copy an alias: the copy points where the alias does
            orig = self.choose(aliases)
            alias = Binding(self.fresh("a"), "alias", depth)
            alias.owner = orig.owner
            self.emit(depth, f"int8->:{alias.name} = {orig.ref};")
            self.bind(alias)
            return
        if r < 0.3 and src.kind == "wild":
            # re-point an alias to another owner that lives at least as long
            outer = [a for a in aliases if a.depth >= src.depth and a.owner is not src and a.ref == a.name]
            if outer:
                alias = self.choose(outer)
                alias.owner = src
                self.emit(depth, f"{alias.name} = {src.name};")
                return
        if r < 0.5 and src.kind == "wild":
            alias = Binding(self.fresh("a"), "alias", depth)
            alias.owner = src
            form = self.rng.random()
            if form < 0.5:
                self.emit(depth, f"int8->:{alias.name} = {src.name};")
            elif form < 0.75:
                # a plain pointer a call returns may be any pointer it was given
                self.emit(depth, f"int8->:{alias.name} = raw same({src.name});")
            else:
                # a struct value holding a pointer borrows like a pointer local
                self.emit(depth, f"Holder:{alias.name} = Holder{{ ptr: {src.name}, n: 1 }};")
                alias.ref = alias.name + ".ptr"
            self.bind(alias)
            return
        dst = Binding(self.fresh("m"), src.kind, depth)
        dst.sealed = src.sealed
        qual = "wild" if src.kind == "wild" else "wildx"
        self.emit(depth, f"{qual} int8->:{dst.name} = {src.name};")
        src.live = False
        self.bind(dst)
        # aliasing across a move: the aliases of `src` now point into what `dst` holds
        for a in aliases:
            if a.owner is src:
                a.owner = dst

    def stmt_if(self, depth):
        cond = self.rng.choice(["n > 1", "n == 2", "acc > 3", "n < 3"])
        self.emit(depth, f"if ({cond}) {{")
        self.block(depth + 1)
        if self.rng.random() < 0.5:
            self.emit(depth, "} else {")
            self.block(depth + 1)
        self.emit(depth, "}")

    def loop_body(self, depth, counted=False, prologue=None):
        """A loop's body block: `break`/`continue` leave it, `$` names its
        counter when `counted`."""
        self.ctx.append(("loop", len(self.scopes)))
        self.counted += counted
        self.block(depth, prologue=prologue)
        self.counted -= counted
        self.ctx.pop()

    def stmt_loop(self, depth):
        i = self.fresh("i")
        bound = self.rng.randint(0, 3)
        if self.rng.random() < 0.5:
            self.emit(depth, f"int32:{i} = 0;")
            self.emit(depth, f"while ({i} < {bound}) {{")
            self.loop_body(depth + 1, prologue=f"{i} += 1;")
        else:
            self.emit(depth, f"for (int32:{i} = 0; {i} < {bound}; {i} += 1) {{")
            self.loop_body(depth + 1)
        self.emit(depth, "}")

    def stmt_counted(self, depth):
        """`loop(start, limit, step)` (up or down) or `till(limit, step)`; the
        body reads `$` (LANGUAGE-2 A4)."""
        a, b = self.rng.randint(0, 3), self.rng.choice(["n", str(self.rng.randint(0, 4))])
        step = self.rng.choice([1, 1, 2])
        form = self.rng.random()
        if form < 0.35:
            head = f"loop({a}, {b}, {step})"
        elif form < 0.6:
            head = f"loop({b}, {a}, {step})"  # counts down when b > a
        else:
            head = f"till({b}, {step})"
        self.emit(depth, f"{head} {{")
        self.loop_body(depth + 1, counted=True)
        self.emit(depth, "}")

    def stmt_when(self, depth):
        """`when (c) { B } then { T } end { E }`: B repeats while c holds; T
        runs when c turns false after a round, E when c is false at once or B
        breaks. `break`/`continue` in T and E belong to the enclosing loop."""
        w = self.fresh("w")
        if self.rng.random() < 0.8:
            self.emit(depth, f"int32:{w} = 0;")
            self.emit(depth, f"when ({w} < {self.rng.randint(0, 3)}) {{")
            self.loop_body(depth + 1, prologue=f"{w} += 1;")
        else:
            # false at the first test: only `end` runs (or nothing)
            self.emit(depth, f"when ({self.rng.choice(['n > 5', 'acc < 0'])}) {{")
            self.loop_body(depth + 1)
        parts = self.rng.choice([["then", "end"], ["then"], ["end"], []])
        for part in parts:
            self.emit(depth, f"}} {part} {{")
            self.block(depth + 1)
        self.emit(depth, "}")

    def patterns(self, selector):
        """The arms' patterns for `selector`: disjoint (so no arm is
        unreachable) and exhaustive, or ended by `(*)`."""
        if selector.startswith("("):  # bool
            return self.rng.choice([["true", "false"], ["false", "true"], ["true", "*"], ["false", "*"]])
        if selector in ("n", "acc") and self.rng.random() < 0.25:
            # every int32 value, in three ranges of either kind
            cut1 = self.rng.randint(-1, 2)
            cut2 = self.rng.randint(cut1 + 1, 4)
            pats = [f"-2147483648...{cut1}", f"{cut1}..{cut2}", f"{cut2 + 1}..2147483647"]
            if self.rng.random() < 0.5:
                pats[1] = f"{cut1}...{cut2 + 1}"
            self.rng.shuffle(pats)
            if self.rng.random() < 0.2:
                pats.append("*")  # allowed after an exhaustive set
            return pats
        pats = []
        lo = self.rng.randint(-1, 1)
        for _ in range(self.rng.randint(1, 4)):
            kind = self.rng.random()
            if kind < 0.5:
                pats.append(str(lo))
                lo += 1
            elif kind < 0.75:
                hi = lo + self.rng.randint(0, 2)
                pats.append(f"{lo}..{hi}")
                lo = hi + 1
            else:
                hi = lo + self.rng.randint(1, 3)
                pats.append(f"{lo}...{hi}")
                lo = hi
            lo += self.rng.randint(0, 1)
        self.rng.shuffle(pats)
        return pats + ["*"]

    def stmt_pick(self, depth):
        """`pick` on n, acc, `$` or a bool, with labelled arms that later
        arms `fall` into (LANGUAGE-2 A3)."""
        choices = ["n", "acc", "(n > 1)", "(acc == 5)"] + (["$", "$"] if self.counted else [])
        selector = self.rng.choice(choices)
        pats = self.patterns(selector)
        labels = [self.fresh("arm") if k > 0 and self.rng.random() < 0.4 else None for k in range(len(pats))]
        self.emit(depth, f"pick ({selector.strip('()') if selector.startswith('(') else selector}) {{")
        for k, pat in enumerate(pats):
            later = [lab for lab in labels[k + 1:] if lab]
            label = f"{labels[k]}: " if labels[k] else ""
            self.emit(depth + 1, f"{label}({pat}) {{")
            self.ctx.append(("arm", len(self.scopes), later))
            tail = f"fall {self.rng.choice(later)};" if later and self.rng.random() < 0.5 else None
            self.block(depth + 2, tail=tail)
            self.ctx.pop()
            self.emit(depth + 1, "}," if k + 1 < len(pats) else "}")
        self.emit(depth, "}")

    def stmt_block(self, depth):
        self.emit(depth, "{")
        self.block(depth + 1)
        self.emit(depth, "}")

    def early_exit(self, depth):
        """An `if` whose body leaves the function, the loop or the arm."""
        cond = self.rng.choice(["n == 1", "n > 2", "acc == 5"] + (["$ == 1"] if self.counted else []))
        # `exit` runs no defers and no drops, yet a registered `defer` or an
        # automatic release discharges its binding there (language notes): the
        # memory is then live at exit by the rules, so the accounting cannot
        # judge such an exit; those shapes leave by `break`/`continue` only.
        exit_ok = not self.drop and not any(b.deferred for b in self.visible())
        choices = (["exit 0;"] if exit_ok else []) if self.in_main else ["pass 0;", "fail 7;"]
        if self.loop_depth:
            choices += ["break;", "continue;"]
        arm = self.ctx[-1] if self.ctx and self.ctx[-1][0] == "arm" else None
        if arm and arm[2]:
            choices += [f"fall {self.rng.choice(arm[2])};"] * 2
        self.emit(depth, f"if ({cond}) {{")
        if not choices:
            self.emit(depth + 1, "acc += 1;")
            self.emit(depth, "}")
            return
        jump = self.rng.choice(choices)
        # What the jump leaves must be released first (mostly): everything for
        # pass/fail/exit, the innermost loop body's own bindings for
        # break/continue, the arm's for `fall`; drop.npk does it by itself.
        if jump in ("break;", "continue;"):
            floor = next(c[1] for c in reversed(self.ctx) if c[0] == "loop")
        elif jump.startswith("fall"):
            floor = arm[1]
        else:
            floor = 0
        for b in self.visible(("wild", "wildx", "jit")):
            if b.scope >= floor and b.live and not b.deferred and not self.drop and not self.mistake():
                self.release(depth + 1, b)
                b.live = True  # only on this path
        self.emit(depth + 1, jump)
        self.emit(depth, "}")

    def block(self, depth, prologue=None, tail=None):
        """A block's statements (the caller writes its braces); `prologue`
        is its first statement, `tail` its last, after the releases at its
        end (a `fall`)."""
        self.scopes.append([])
        if prologue:
            self.emit(depth, prologue)
        n = self.rng.randint(1, 5)
        for _ in range(n):
            if self.budget <= 0:
                break
            self.budget -= 1
            self.statement(depth)
        self.close_scope(depth)
        if tail:
            self.emit(depth, tail)

    def close_scope(self, depth):
        scope = self.scopes[-1]
        for b in reversed(scope):
            if b.kind == "alias" or b.deferred or not b.live:
                continue
            if self.drop and self.rng.random() < 0.7:
                continue  # drop.npk releases it at the end of the scope
            if self.mistake():
                continue  # forgotten: a leak the checker must see
            self.release(depth, b)
        self.scopes.pop()

    def statement(self, depth):
        kinds = [(self.stmt_alloc, 5), (self.stmt_release, 3), (self.stmt_use, 4), (self.stmt_seal, 1),
                 (self.stmt_move, 2), (self.stmt_if, 2), (self.stmt_loop, 1.2), (self.stmt_counted, 1.2),
                 (self.stmt_when, 0.8), (self.stmt_pick, 1.5), (self.stmt_block, 1), (self.early_exit, 1.2),
                 (self.stmt_hazard, 0.3)]
        if len(self.scopes) > 5:
            kinds = kinds[:5]
        total = sum(w for _, w in kinds)
        r = self.rng.random() * total
        for fn, w in kinds:
            if r < w:
                return fn(depth)
            r -= w
        return kinds[0][0](depth)

    def program(self):
        drop_use = 'use "drop.npk".*;\n' if self.drop else ""
        consume = CONSUME if self.with_consume else ""
        if self.in_main:
            self.emit(0, "func:main = int32() {")
            self.emit(1, f"int32:n = {self.rng.randint(0, 3)};")
            self.emit(1, "int32:acc = 0;")
            self.emit(1, "{")  # every scope, defers included, closes before the final exit
            self.block(2)
            self.emit(1, "}")
            self.emit(1, "exit 0;")
            self.emit(0, "};")
            return PRELUDE.format(drop_use=drop_use, consume=consume) + "\n" + "\n".join(self.lines) + "\n"
        self.emit(0, "func:body = int32(int32:n) {")
        self.emit(1, "int32:acc = 0;")
        self.block(1)
        self.emit(1, "pass acc;")
        self.emit(0, "};")
        return PRELUDE.format(drop_use=drop_use, consume=consume) + "\n" + "\n".join(self.lines) + "\n" + \
            MAIN.format(runs=4)  # n = 0..3: each branch on `n` is taken in some call


def generate(seed, drop=None):
    rng = random.Random(seed * 7919 + 17)
    if drop is None:
        drop = rng.random() < 0.4
    return Gen(seed, drop).program()


if __name__ == "__main__":
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    drop = None
    if "--drop" in sys.argv:
        drop = sys.argv[sys.argv.index("--drop") + 1] == "1"
    sys.stdout.write(generate(seed, drop))
