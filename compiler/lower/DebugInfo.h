// DWARF for Nitpick code (`-g`): the lowering calls these hooks and this
// file alone speaks llvm::DIBuilder. Each source module is a compile unit
// (language DW_LANG_C, the closest standard code: gdb then reads values,
// fields and pointers in C syntax); each function a DISubprogram named as
// the source names it (`Math.square`, `Point.drop` for `impl:Drop:for:Point`),
// under that name alone (no linkage name, which gdb would show); every instruction lowered from a
// NIR instruction carries that instruction's line and column; parameters and
// locals are variables declared on their stack slots.
#pragma once

#include "nir/NIR.h"
#include "support/Source.h"

#include <llvm/IR/DIBuilder.h>
#include <llvm/IR/DebugLoc.h>

#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

namespace npk {

class Lowerer;
struct Binding;
struct FuncDecl;
struct GlobalDecl;
struct Module;
struct Stmt;
struct Ty;

class DebugInfo {
public:
  DebugInfo(Lowerer &lowerer, bool optimized);
  ~DebugInfo();

  // Attaches the subprogram of `f` to its definition `fn`; locations and
  // variables that follow belong to it.
  void beginFunction(const FuncDecl &f, llvm::Function *fn);
  // Generated code without a Nitpick body (the C entry point, the failsafe
  // thunk): an artificial subprogram at `at`, in the unit of `module`.
  void beginArtificial(llvm::Function *fn, const Module &module, Span at);
  // The location of `s` in the current function (line 0 when s is invalid).
  llvm::DebugLoc location(Span s) const;
  // The location of the code lowered from `in`.
  llvm::DebugLoc location(const nir::Inst &in) const;
  // Declares `b` as living at `storage` (an alloca). `indirect`: the slot
  // holds the address of the value (a borrowed parameter, a heap struct).
  // `argNo` is the parameter's 1-based position, 0 for a local.
  void declareVariable(const Binding &b, llvm::Value *storage, bool indirect, unsigned argNo,
                       llvm::BasicBlock *entry);
  // Declares the module-level binding `g` as living in `var`.
  void declareGlobal(const GlobalDecl &g, llvm::GlobalVariable *var);
  // Resolves every unit; call once after the last function.
  void finalize();

private:
  llvm::DIBuilder &unitOf(const Module &m);
  llvm::DIFile *file(uint32_t fileId);
  llvm::DIType *type(const Ty *t);
  llvm::DIType *basicType(const char *name, unsigned bits, unsigned encoding);
  llvm::DIType *structType(const Ty *t);
  llvm::DIType *resultType(const Ty *t);
  llvm::DICompositeType *compositeType(const std::string &name, llvm::Type *llvmTy, llvm::DIFile *in, unsigned line);
  void setMembers(llvm::DICompositeType *of, llvm::Type *llvmTy,
                  const std::vector<std::pair<std::string, const Ty *>> &fields, llvm::DIFile *in);
  llvm::DISubroutineType *signature(const FuncDecl &f);
  unsigned lineOf(Span s) const;
  void addBlockScopes(const Stmt &s, int parent);
  llvm::DIScope *scopeAt(Span s) const;

  Lowerer &l_;
  bool optimized_;
  std::map<const Module *, std::unique_ptr<llvm::DIBuilder>> units_; // one DIBuilder per compile unit
  std::map<const Module *, llvm::DICompileUnit *> compileUnits_;
  llvm::DIBuilder *types_ = nullptr; // the first unit's builder, which builds the shared types
  std::unordered_map<uint32_t, llvm::DIFile *> files_;
  std::unordered_map<const Ty *, llvm::DIType *> typeCache_;
  std::map<std::string, llvm::DIType *> basics_;
  llvm::DISubprogram *current_ = nullptr;
  llvm::DIFile *currentFile_ = nullptr;
  uint32_t currentFileId_ = 0;
  // The current function's nested blocks as lexical scopes, in source order
  // (a block after every block that contains it): the scope of an
  // instruction or a local is the innermost block holding its span, so a
  // shadowing local is a different variable in a debugger.
  struct BlockScope {
    uint32_t begin, end;
    int parent; // index in blockScopes_, -1 for the function
    llvm::DILexicalBlock *scope;
  };
  std::vector<BlockScope> blockScopes_;
};

} // namespace npk
