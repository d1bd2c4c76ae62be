#include "ast/AST.h"

namespace npk {

const char *binaryText(BinaryOp op) {
  static const char *const names[] = {
#define BINARY_OP(Op, Spelling, Token, Precedence) Spelling,
#include "ast/Operators.def"
  };
  return names[static_cast<int>(op)];
}

namespace {

std::string typeText(const TypeExpr &t) {
  if (t.func) {
    std::string s = std::string(t.func->isExtern ? "extern " : "") + "(" + typeText(t.func->ret) + ")(";
    for (size_t i = 0; i < t.func->params.size(); ++i)
      s += (i ? ", " : "") + qualifierText(t.func->quals[i]) + typeText(t.func->params[i]);
    return s + ")";
  }
  if (t.elementOf) { // `int32[2][3]`: the outer size first
    const TypeExpr *inner = &t;
    std::string dims;
    for (; inner->elementOf && !(inner != &t && inner->pointerDepth); inner = inner->elementOf.get())
      dims += "[" + (inner->arraySize ? exprText(*inner->arraySize) : std::string("?")) + "]";
    std::string s = typeText(*inner) + dims;
    for (int i = 0; i < t.pointerDepth; ++i) s += t.cStyle ? "*" : "->";
    return s;
  }
  std::string s = t.name == "Result" && t.resultOf ? "Result<" + typeText(*t.resultOf) + ">" : t.name;
  for (int i = 0; i < t.pointerDepth; ++i) s += t.cStyle ? "*" : "->";
  return s;
}

class Dumper {
public:
  std::string out;
  const ExprTextHook *hook = nullptr;

  void line(int depth, const std::string &text) {
    out.append(static_cast<size_t>(depth) * 2, ' ');
    out += text;
    out += '\n';
  }

  std::string expr(const Expr *e) {
    if (!e) return "<none>";
    if (hook && *hook)
      if (std::string instead = (*hook)(*e); !instead.empty()) return instead;
    switch (e->kind) {
    case ExprKind::IntLit: return std::to_string(static_cast<const IntLitExpr *>(e)->value);
    case ExprKind::FloatLit: return std::to_string(static_cast<const FloatLitExpr *>(e)->value);
    case ExprKind::BoolLit: return static_cast<const BoolLitExpr *>(e)->value ? "true" : "false";
    case ExprKind::StringLit: return "\"" + static_cast<const StringLitExpr *>(e)->value + "\"";
    case ExprKind::Template: {
      std::string s = "(template";
      for (auto &p : static_cast<const TemplateExpr *>(e)->parts) s += " " + (p.expr ? expr(p.expr.get()) : "\"" + p.text + "\"");
      return s + ")";
    }
    case ExprKind::NullLit: return "NULL";
    case ExprKind::Counter: return "$";
    case ExprKind::Name: return static_cast<const NameExpr *>(e)->name;
    case ExprKind::Unary: {
      auto *u = static_cast<const UnaryExpr *>(e);
      static const char *const ops[] = {"-", "!", "~", "@", "<-"};
      return std::string("(") + ops[static_cast<int>(u->op)] + " " + expr(u->operand.get()) + ")";
    }
    case ExprKind::Binary: {
      auto *b = static_cast<const BinaryExpr *>(e);
      return std::string("(") + binaryText(b->op) + " " + expr(b->lhs.get()) + " " + expr(b->rhs.get()) + ")";
    }
    case ExprKind::Cast: {
      auto *c = static_cast<const CastExpr *>(e);
      const char *op = c->unchecked ? "(@cast_unchecked " : c->intrinsic ? "(@cast " : "(=> ";
      return op + expr(c->operand.get()) + " " + typeText(c->target) + ")";
    }
    case ExprKind::Call: {
      auto *c = static_cast<const CallExpr *>(e);
      std::string s = "(call " + expr(c->callee.get());
      for (auto &a : c->args) s += " " + expr(a.get());
      return s + ")";
    }
    case ExprKind::Index: {
      auto *i = static_cast<const IndexExpr *>(e);
      return "(index " + expr(i->base.get()) + " " + expr(i->index.get()) + ")";
    }
    case ExprKind::Member: {
      auto *m = static_cast<const MemberExpr *>(e);
      return "(. " + expr(m->base.get()) + " " + m->member + ")";
    }
    case ExprKind::Raw: return "(raw " + expr(static_cast<const RawExpr *>(e)->operand.get()) + ")";
    case ExprKind::Drop: return "(drop " + expr(static_cast<const DropExpr *>(e)->operand.get()) + ")";
    case ExprKind::Is: {
      auto *i = static_cast<const IsExpr *>(e);
      return "(is " + expr(i->cond.get()) + " " + expr(i->ifTrue.get()) + " " + expr(i->ifFalse.get()) + ")";
    }
    case ExprKind::Layout: {
      auto *l = static_cast<const LayoutExpr *>(e);
      return std::string(l->align ? "(@alignof " : "(@sizeof ") + typeText(l->type) + ")";
    }
    case ExprKind::IncDec: {
      auto *i = static_cast<const IncDecExpr *>(e);
      return "(" + expr(i->operand.get()) + (i->decrement ? "--)" : "++)");
    }
    case ExprKind::Default: {
      auto *d = static_cast<const DefaultExpr *>(e);
      return "(? " + expr(d->operand.get()) + " " + expr(d->fallback.get()) + ")";
    }
    case ExprKind::StructLit: {
      auto *s = static_cast<const StructLitExpr *>(e);
      std::string r = "(struct " + s->name;
      for (auto &f : s->fields) r += " " + f.name + ":" + expr(f.value.get());
      return r + ")";
    }
    case ExprKind::ArrayLit: {
      std::string r = "(array";
      for (auto &el : static_cast<const ArrayLitExpr *>(e)->elements) r += " " + expr(el.get());
      return r + ")";
    }
    case ExprKind::Error: return "<error>";
    }
    return "?";
  }

  // What a statement's dump (AST.h) writes with, at its depth.
  struct StmtWriter {
    Dumper &dumper;
    int depth;
    void line(const std::string &text) { dumper.line(depth, text); }
    std::string expr(const Expr *e) { return dumper.expr(e); }
    std::string type(const TypeExpr &t) { return typeText(t); }
    std::string quals(uint8_t q) { return qualifierText(q); }
    void child(const Stmt *s) { dumper.stmt(s, depth + 1); }
    template <class F> void indented(F &&f) {
      ++depth;
      f();
      --depth;
    }
  };

  void stmt(const Stmt *s, int d) {
    if (!s) return;
    StmtWriter writer{*this, d};
    visitStmt(*s, [&](const auto &node) { node.dump(writer); });
  }

  void func(const FuncDecl &f, int d) {
    std::string params;
    for (auto &p : f.params)
      params += (params.empty() ? "" : ", ") + qualifierText(p->binding.quals) + typeText(p->type) + ":" + p->binding.name;
    line(d, "func " + f.name + " = " + qualifierText(f.retQuals) + typeText(f.retType) + "(" + params + ")");
    stmt(f.body.get(), d + 1);
  }
};

} // namespace

std::string exprText(const Expr &e, const ExprTextHook &hook) {
  Dumper d;
  d.hook = &hook;
  return d.expr(&e);
}

std::string dumpModule(const Module &m) {
  Dumper d;
  d.line(0, "module " + m.name);
  for (auto &u : m.uses) d.line(1, "use \"" + u.path + "\"");
  for (auto &e : m.externs) {
    std::string params;
    for (auto &p : e->params) params += (params.empty() ? "" : ", ") + qualifierText(p.quals) + typeText(p.type);
    if (e->variadic) params += ", ..?";
    std::string head = "extern " + std::string(e->isPub ? "pub " : "") +
                       (e->label.empty() ? "" : "\"" + e->label + "\" ");
    d.line(1, head + e->name + " = " + qualifierText(e->retQuals) + typeText(e->retType) + "(" + params + ")");
  }
  for (auto &s : m.structs) {
    d.line(1, "struct " + s->name);
    for (auto &f : s->fields) d.line(2, typeText(f.type) + ":" + f.name);
  }
  for (auto &t : m.typeBlocks) {
    d.line(1, "Type " + t->name);
    for (auto &f : t->members) d.func(*f, 2);
  }
  for (auto &i : m.impls) {
    d.line(1, "impl " + i->trait + " for " + i->target);
    for (auto &f : i->methods) d.func(*f, 2);
  }
  for (auto &g : m.globals) {
    static const char *const kKind[] = {"global ", "global fixed ", "global const "};
    const VarDeclStmt &v = *g->decl;
    d.line(1, std::string(g->isPub ? "pub " : "") + kKind[static_cast<int>(g->kind)] +
                  qualifierText(v.binding.quals & ~QualFixed) + typeText(v.type) + ":" + v.binding.name +
                  (v.init ? " = " + d.expr(v.init.get()) : ""));
  }
  for (auto &f : m.funcs) d.func(*f, 1);
  return d.out;
}

} // namespace npk
