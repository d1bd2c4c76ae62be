#include "own/Elaborate.h"

#include "ast/Walk.h"

namespace npk::own {

namespace {

nir::Inst dropInst(const DropAction &a, Span at) {
  nir::Inst in;
  in.op = nir::Op::Drop;
  in.span = at;
  in.binding = a.binding;
  in.guarded = a.guarded;
  in.userDrop = a.userDrop;
  switch (a.kind) {
  case DropKind::WildxFree: in.dropKind = nir::DropKind::WildxFree; break;
  case DropKind::Free: in.dropKind = nir::DropKind::Free; break;
  case DropKind::UserDrop: in.dropKind = nir::DropKind::UserDrop; break;
  }
  return in;
}

nir::Inst flagInst(const Binding *b, bool value, Span at) {
  nir::Inst in;
  in.op = nir::Op::Flag;
  in.span = at;
  in.binding = b;
  in.flagValue = value;
  return in;
}

// The drops the plan puts at the site's `scope.exit`, or null.
const std::vector<DropAction> *siteDrops(const nir::ExitSite &site, const DropPlan &plan) {
  switch (site.kind) {
  case nir::ExitKind::BlockEnd: {
    auto it = plan.blockEnd.find(site.block);
    return it == plan.blockEnd.end() ? nullptr : &it->second;
  }
  case nir::ExitKind::Pass:
  case nir::ExitKind::Fail:
  case nir::ExitKind::Return:
  case nir::ExitKind::Break:
  case nir::ExitKind::Continue: {
    auto it = plan.exits.find(site.stmt);
    return it == plan.exits.end() ? nullptr : &it->second;
  }
  case nir::ExitKind::FunctionEnd:
  case nir::ExitKind::Detached:
  case nir::ExitKind::Exit: return nullptr;
  }
  return nullptr;
}

// The expressions an instruction evaluates in place.
void instExprs(const nir::Inst &in, const std::function<void(const Expr &)> &f) {
  switch (in.op) {
  case nir::Op::Eval: walkExprs(*in.expr, f); return;
  case nir::Op::Store: walkExprs(*in.expr, f); return;
  case nir::Op::Update:
    walkExprs(*in.expr, f);
    walkExprs(*in.value, f);
    return;
  default: return;
  }
}

} // namespace

void elaborateDrops(nir::Func &f, const DropPlan &plan) {
  for (nir::Block &block : f.blocks) {
    std::vector<nir::Inst> out;
    out.reserve(block.insts.size());
    for (nir::Inst &in : block.insts) {
      if (in.op == nir::Op::Store && in.value)
        if (auto it = plan.beforeStore.find(in.value); it != plan.beforeStore.end())
          for (const DropAction &a : it->second) out.push_back(dropInst(a, in.span));
      instExprs(in, [&](const Expr &e) {
        if (auto it = plan.clearsFlag.find(&e); it != plan.clearsFlag.end()) in.clearsFlag.emplace_back(&e, it->second);
      });
      out.push_back(std::move(in));
      const nir::Inst &done = out.back();
      if (done.op == nir::Op::ScopeExit) {
        if (const std::vector<DropAction> *drops = siteDrops(f.sites[done.site], plan))
          for (const DropAction &a : *drops) out.push_back(dropInst(a, done.span));
        continue;
      }
      // Where a flagged binding gets a value to own, its flag turns true.
      const Binding *owns = nullptr;
      if (done.op == nir::Op::Let || done.op == nir::Op::Param) owns = done.binding;
      if (auto *n = done.op == nir::Op::Store ? as<NameExpr>(done.expr) : nullptr; n && n->binding && !n->binding->heapStruct)
        owns = n->binding;
      if (owns && plan.flagged.count(owns)) out.push_back(flagInst(owns, true, done.span));
    }
    block.insts = std::move(out);
  }
}

} // namespace npk::own
