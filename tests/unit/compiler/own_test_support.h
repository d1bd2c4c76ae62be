// Checks a one-module program in memory for the ownership tests: parse,
// check, then whatever the test asks of the ownership phase.
#pragma once

#include "check/Checker.h"
#include "own/Dataflow.h"
#include "own/Ownership.h"
#include "parse/Parser.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace npk::testing {

struct Checked {
  SourceManager sm;
  DiagEngine diags;
  Program program;
  TypeContext types;
  std::unique_ptr<Checker> checker;

  // `dropEnabled` stands for `use "drop.npk".*;` (the test has no stdlib).
  explicit Checked(const std::string &text, bool dropEnabled = false) {
    auto m = std::make_unique<Module>();
    m->path = m->name = "test.npk";
    m->isMain = true;
    m->dropEnabled = dropEnabled;
    m->fileId = sm.add("test.npk", text);
    parseFile(sm, m->fileId, diags, *m);
    program.main = m.get();
    program.modules.push_back(std::move(m));
    checker = std::make_unique<Checker>(sm, program, types, diags);
    checker->run();
  }

  bool clean() const { return !diags.hasErrors(); }

  const FuncDecl &func(const std::string &name) const {
    for (FuncDecl *f : checker->symbols().allFuncs)
      if (f->name == name) return *f;
    ADD_FAILURE() << "no function " << name;
    return *checker->symbols().allFuncs.front();
  }

  // Runs the ownership phase; returns the codes it reported, in order.
  // `nirOut` gets the NIR with the drops it placed.
  std::vector<std::string> ownershipCodes(nir::Module *nirOut = nullptr) {
    size_t before = diags.all().size();
    nir::Module nir = nir::build(checker->symbols().allFuncs);
    checkOwnership(sm, checker->symbols(), diags, nir);
    std::vector<std::string> codes;
    for (size_t i = before; i < diags.all().size(); ++i) codes.emplace_back(diagCode(diags.all()[i].id));
    if (nirOut) *nirOut = std::move(nir);
    return codes;
  }

  const Diag &lastDiag() const { return diags.all().back(); }
};

// The instructions of `f` with opcode `op`, in block order.
inline std::vector<const nir::Inst *> insts(const nir::Func &f, nir::Op op) {
  std::vector<const nir::Inst *> out;
  for (const nir::Block &b : f.blocks)
    for (const nir::Inst &in : b.insts)
      if (in.op == op) out.push_back(&in);
  return out;
}

// The id of the local or parameter `name` in `f`'s binding table.
inline unsigned bindingId(const own::Cfg &cfg, const std::string &name) {
  for (const own::TrackedBinding &tb : cfg.bindings)
    if (tb.binding && tb.binding->name == name) return tb.binding->id;
  ADD_FAILURE() << "no binding " << name;
  return 0;
}

} // namespace npk::testing
