// Internal state of the lowering, shared by the files split by construct.
#pragma once

#include "lower/DebugInfo.h"
#include "lower/Lower.h"

#include "npk/runtime.h"

#include <llvm/ADT/STLFunctionalExtras.h>
#include <llvm/IR/IRBuilder.h>

#include <map>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace npk {

// The runtime functions generated code calls (npk/runtime_calls.def).
enum class RuntimeFn {
#define NPK_RUNTIME_CALL(name, ret, params, attributes) name,
#include "npk/runtime_calls.def"
  Count
};

class Lowerer {
public:
  Lowerer(llvm::LLVMContext &ctx, const SourceManager &sm, Program &program, const Symbols &syms, NirFuncs &nir);
  std::unique_ptr<llvm::Module> run();

  // ---- types and runtime (LowerFunc.cpp)
  llvm::Type *llvmType(const Ty *t);
  llvm::Type *cType(const Ty *t);
  llvm::Constant *zeroValue(const Ty *t);
  void defineGlobal(const GlobalDecl &g);
  llvm::Constant *constant(const ConstValue &v, const Ty *t);
  llvm::StructType *resultType(const Ty *value);
  llvm::FunctionCallee runtime(RuntimeFn which); // declared once each (runtimeFns_)
  llvm::Function *declareFunc(FuncDecl &f);
  const Ty *funcType(const FuncDecl &f);
  bool returnsInMemory(const Ty *fnTy);
  bool passesInMemory(const Ty *fnTy, size_t i);
  std::vector<std::pair<unsigned, llvm::Attribute>> memoryABI(const Ty *fnTy, bool plain);
  void addMemoryABI(llvm::Function &fn, const Ty *fnTy, bool plain);
  void addMemoryABI(llvm::CallBase &call, const Ty *fnTy, bool plain);
  llvm::Value *callFunction(llvm::FunctionType *llvmTy, llvm::Value *callee, const Ty *fnTy, bool plain,
                            std::vector<llvm::Value *> args);
  llvm::Function *declareExtern(ExternDecl &e);
  llvm::FunctionType *externType(const ExternDecl &e);
  void addCExtensions(llvm::Function &fn, const Ty *ret, const std::vector<const Ty *> &params);
  void addCExtensions(llvm::CallBase &call, const Ty *ret, const std::vector<const Ty *> &params);
  llvm::Value *promoteVariadic(llvm::Value *v, const Ty *t);
  void lowerFunc(const nir::Func &f);
  void emitEntryPoint();
  void enterGenerated(llvm::Function *fn, const FuncDecl &f);
  llvm::Constant *locString(Span s);
  llvm::Constant *stringConstant(const std::string &s);
  llvm::Constant *stringValue(const std::string &s);

  // ---- instructions and drops (LowerInst.cpp)
  void lowerBody(const nir::Func &f);
  void lowerInst(const nir::Func &f, const nir::Inst &in);
  void lowerParam(const nir::Inst &in);
  void lowerLet(const nir::Inst &in);
  void storeValue(llvm::Value *v, llvm::Value *addr);
  static constexpr uint64_t kLargeValueBytes = 4096;
  bool largeValue(const Ty *t);
  llvm::Value *privateCopy(llvm::Value *addr, const Ty *t);
  llvm::AllocaInst *privateSlot(const Ty *t);
  llvm::AllocaInst *privateSlot(llvm::Type *ty);
  llvm::Value *unchangedSource(llvm::Value *v);
  llvm::Value *valueInMemory(llvm::Value *v, const Ty *t);
  llvm::Value *part(llvm::Value *agg, unsigned idx, const llvm::Twine &name = "");
  llvm::Value *builtPart(llvm::Value *agg, unsigned idx);
  std::unordered_set<const llvm::Value *> privateCopies_; // allocas only privateCopy writes
  llvm::Value *temp(nir::Temp t, const Ty *to = nullptr);
  // Whether the instruction being lowered evaluated `e` before (a sub:
  // nir/NIR.h), and then its value.
  bool evaluatedBefore(const Expr &e, llvm::Value *&value) const;
  void lowerPhi(const nir::Inst &in);
  llvm::BasicBlock *newBlock(const std::string &name);
  void emitDrop(const nir::Inst &drop);
  void emitRelease(const nir::Inst &drop);
  void tagDrop(llvm::CallInst *call);
  llvm::BasicBlock *blockAfterCurrent(const std::string &name);
  void emitValueDrop(llvm::Value *addr, const Ty *ty);
  void emitArrayDrop(llvm::Value *addr, const Ty *ty);
  void dropDiscarded(llvm::Value *v, const Ty *ty);
  llvm::Value *fieldOfTemporary(const MemberExpr &e);
  void noteRelease(const Expr &e);
  void setDropFlag(const Binding &b, bool owned);
  bool terminated() const;

  // ---- expressions (LowerExpr.cpp)
  llvm::Value *lowerExpr(const Expr &e);
  llvm::Value *lowerAs(const Expr &e, const Ty *target); // value converted to target
  llvm::Value *convert(llvm::Value *v, const Ty *from, const Ty *to);
  llvm::Value *lowerAddress(const Expr &e);             // address of an lvalue
  static bool readOnlyGlobal(const Expr &e);
  llvm::Value *bindingAddress(const Binding &b);        // storage of the binding's value
  llvm::Value *lowerBinary(const BinaryExpr &e);
  // `rt` is the type of r when it differs from t (a shift amount); `negate`
  // marks unary minus lowered as 0 - r (for the trap message).
  llvm::Value *lowerArith(BinaryOp op, llvm::Value *l, llvm::Value *r, const Ty *t, Span at, const Ty *rt = nullptr,
                          bool negate = false);
  llvm::Value *lowerUnary(const UnaryExpr &e);
  llvm::Value *lowerCast(const CastExpr &e);
  bool returnsPlain(const FuncDecl &f) const { return plainReturn_.count(&f) != 0; }
  llvm::Value *funcValue(const FuncDecl &f);
  void emitResultThunks();
  llvm::Value *castIntChecked(llvm::Value *v, const Ty *from, const Ty *to, Span at);
  llvm::Value *castUnchecked(llvm::Value *v, const Ty *from, const Ty *to);
  llvm::Value *lowerValueCall(const CallExpr &e);
  llvm::FunctionType *funcValueType(const Ty *fnTy);
  llvm::Value *lowerCall(const CallExpr &e);
  llvm::Value *cStringArg(llvm::Value *str);
  llvm::Value *lowerBuiltin(const CallExpr &e);
  llvm::Value *lowerPrint(const CallExpr &e);
  llvm::Value *lowerMember(const MemberExpr &e);
  llvm::Value *lowerStructLit(const StructLitExpr &e);
  llvm::Value *lowerArrayLit(const ArrayLitExpr &e);
  llvm::Value *arrayElement(const IndexExpr &e);
  llvm::Value *lowerRaw(const RawExpr &e);
  // One trap site (npk_trap_site in npk/runtime.h): what npk_trap_at prints.
  struct TrapSite {
    int code = 0;
    uint8_t kind = NPK_TRAP_SITE_PLAIN;
    uint8_t flags = 0;
    Span at;
    const char *op = nullptr;
    const Ty *type = nullptr;
  };
  // When failCond holds, the site's trap: npk_trap_at(table, site, a, b),
  // with the operands `operands` computes (each an int64; none: 0). A
  // condition known false emits nothing. Unoptimised code without debug info
  // branches to the function's one shared trap block (trapBlock_), which
  // receives the site's number and the operands through phis; otherwise each
  // site has its own cold block, where the operands are computed, and its own
  // source location.
  using TrapOperands = std::pair<llvm::Value *, llvm::Value *>;
  void emitTrap(llvm::Value *failCond, const TrapSite &site,
                llvm::function_ref<TrapOperands()> operands = [] { return TrapOperands{}; });
  llvm::Constant *trapSite(const TrapSite &site); // its number in the table
  uint32_t trapText(const std::string &text);
  llvm::GlobalVariable *trapTable();
  void defineTrapTable();
  // The program's npk_trap_table (defined by defineTrapTable once every site
  // is known): each site's words, and the texts they name by index.
  llvm::GlobalVariable *trapTable_ = nullptr;
  std::vector<uint32_t> trapSites_;
  std::vector<std::string> trapTexts_;
  std::unordered_map<std::string, uint32_t> trapTextIndex_;
  struct SharedTrap {
    llvm::BasicBlock *block = nullptr;
    llvm::PHINode *site = nullptr, *a = nullptr, *b = nullptr;
  } trapBlock_; // per function
  llvm::Value *toInt64(llvm::Value *v, const Ty *t);
  llvm::Value *makeResult(const Ty *value, llvm::Value *isError, llvm::Value *err, llvm::Value *val);

  llvm::LLVMContext &ctx_;
  const SourceManager &sm_;
  Program &program_;
  const Symbols &syms_;
  NirFuncs &nir_; // consumed: each function's blocks go once it is lowered
  TypeContext *types_ = nullptr;
  std::unique_ptr<llvm::Module> mod_;
  llvm::IRBuilder<> b_;

  std::unordered_map<const FuncDecl *, llvm::Function *> funcs_;
  std::unordered_map<const FuncDecl *, const Ty *> funcTypes_; // funcType
  std::unordered_set<const FuncDecl *> plainReturn_;             // nir::Func::plainReturn
  std::unordered_map<const FuncDecl *, llvm::Function *> resultThunks_; // `@f` of a plain-return f
  std::vector<const FuncDecl *> thunkOrder_;                            // resultThunks_ in creation order
  std::unordered_map<const ExternDecl *, llvm::Function *> externs_;
  std::unordered_map<const GlobalDecl *, llvm::GlobalVariable *> globals_;
  std::unordered_map<const StructDecl *, llvm::StructType *> structs_;
  std::map<std::string, llvm::Constant *> strings_;
  llvm::FunctionCallee runtimeFns_[size_t(RuntimeFn::Count)];

  // Per-function state.
  const FuncDecl *func_ = nullptr;
  llvm::Function *fn_ = nullptr;
  llvm::Value *resultOut_ = nullptr; // where fn_ stores what it returns (returnsInMemory), or null
  llvm::IRBuilder<> allocas_;
  std::vector<llvm::BasicBlock *> blocks_;  // one per NIR block
  std::vector<llvm::BasicBlock *> blockEnds_; // where each lowered NIR block's code ends (a trap splits blocks)
  const nir::Func *nirFunc_ = nullptr;      // the function being lowered
  const nir::Inst *inst_ = nullptr;         // the instruction being lowered
  llvm::BasicBlock *anchor_ = nullptr;      // the block after the NIR block being lowered
  std::vector<llvm::Value *> temps_;        // NIR temporaries
  std::vector<const Ty *> tempTys_;
  const std::vector<std::pair<const Expr *, const Binding *>> *clears_ = nullptr; // of the instruction lowered
  std::unordered_map<const Binding *, llvm::Value *> slots_;     // alloca (or borrowed pointer)
  std::unordered_map<const Binding *, llvm::Value *> dropFlags_; // i1 allocas
  // A `loop`/`till`'s state: `$`, the rounds left (unsigned), and what `$`
  // moves by (step, or its negation counting down).
  struct Counted {
    llvm::Value *counter, *left, *delta; // allocas
  };
  std::unordered_map<const LoopStmt *, Counted> counted_;
  void lowerCountInit(const nir::Inst &in);
  void lowerSwitch(const nir::Inst &in);
  llvm::MDNode *dropTag_ = nullptr; // while a NIR drop is lowered
  unsigned dropCount_ = 0;

  LowerOptions options_;
  std::unique_ptr<DebugInfo> debug_; // with `-g` only
};

} // namespace npk
