// Internal state of the lowering, shared by the files split by construct.
#pragma once

#include "lower/Lower.h"

#include <llvm/IR/IRBuilder.h>

#include <map>
#include <unordered_map>
#include <vector>

namespace npk {

class Lowerer {
public:
  Lowerer(llvm::LLVMContext &ctx, const SourceManager &sm, Program &program, const Symbols &syms,
          const ProgramDropPlans &drops);
  std::unique_ptr<llvm::Module> run();

  // ---- types and runtime (LowerFunc.cpp)
  llvm::Type *llvmType(const Ty *t);
  llvm::Type *cType(const Ty *t);
  llvm::Constant *zeroValue(const Ty *t);
  llvm::StructType *resultType(const Ty *value);
  llvm::FunctionCallee runtime(const char *name);
  llvm::Function *declareFunc(FuncDecl &f);
  llvm::Function *declareExtern(ExternDecl &e);
  void lowerFunc(FuncDecl &f);
  void emitEntryPoint();
  llvm::Constant *locString(Span s);
  llvm::Constant *stringConstant(const std::string &s);
  llvm::Constant *stringValue(const std::string &s);

  // ---- statements (LowerStmt.cpp)
  void lowerBlock(const BlockStmt &b);
  void lowerStmt(const Stmt &s);
  void lowerVarDecl(const VarDeclStmt &s);
  void lowerAssign(const AssignStmt &s);
  void lowerIf(const IfStmt &s);
  void lowerWhile(const WhileStmt &s);
  void lowerFor(const ForStmt &s);
  void lowerLeave(const Stmt &s, llvm::Value *result);
  void lowerBreakContinue(const Stmt &s);
  void runScopeExit(size_t downTo, const std::vector<DropAction> *drops);
  void runBlockEnd(const BlockStmt &b);
  void runDefers(const std::vector<const Stmt *> &defers);
  const std::vector<DropAction> *plannedExitDrops(const Stmt &s) const;
  void emitDrop(const DropAction &a);
  void emitRelease(const DropAction &a);
  llvm::BasicBlock *blockAfterCurrent(const std::string &name);
  void emitValueDrop(llvm::Value *addr, const Ty *ty);
  void noteRelease(const Expr &e);
  void setDropFlag(const Binding &b, bool owned);
  void startDeadBlock();
  bool terminated() const;

  // ---- expressions (LowerExpr.cpp)
  llvm::Value *lowerExpr(const Expr &e);
  llvm::Value *lowerAs(const Expr &e, const Ty *target); // value converted to target
  llvm::Value *convert(llvm::Value *v, const Ty *from, const Ty *to);
  llvm::Value *lowerAddress(const Expr &e);             // address of an lvalue
  llvm::Value *bindingAddress(const Binding &b);        // storage of the binding's value
  llvm::Value *lowerBinary(const BinaryExpr &e);
  llvm::Value *lowerArith(BinaryOp op, llvm::Value *l, llvm::Value *r, const Ty *t, Span at);
  llvm::Value *lowerLogical(const BinaryExpr &e);
  llvm::Value *lowerUnary(const UnaryExpr &e);
  llvm::Value *lowerCast(const CastExpr &e);
  llvm::Value *lowerCall(const CallExpr &e);
  llvm::Value *cStringArg(llvm::Value *str);
  llvm::Value *lowerBuiltin(const CallExpr &e);
  llvm::Value *lowerPrint(const CallExpr &e);
  llvm::Value *lowerMember(const MemberExpr &e);
  llvm::Value *lowerStructLit(const StructLitExpr &e);
  llvm::Value *lowerResultUnwrap(llvm::Value *result, const Ty *resultTy, const Expr *fallback);
  void emitTrap(llvm::Value *failCond, int code, Span at);
  llvm::Value *makeResult(const Ty *value, llvm::Value *isError, llvm::Value *err, llvm::Value *val);

  llvm::LLVMContext &ctx_;
  const SourceManager &sm_;
  Program &program_;
  const Symbols &syms_;
  const ProgramDropPlans &drops_;
  TypeContext *types_ = nullptr;
  std::unique_ptr<llvm::Module> mod_;
  llvm::IRBuilder<> b_;

  std::unordered_map<const FuncDecl *, llvm::Function *> funcs_;
  std::unordered_map<const ExternDecl *, llvm::Function *> externs_;
  std::unordered_map<const StructDecl *, llvm::StructType *> structs_;
  std::map<std::string, llvm::Constant *> strings_;

  // Per-function state.
  struct Scope {
    const BlockStmt *block = nullptr;
    std::vector<const Stmt *> defers;
  };
  struct Loop {
    llvm::BasicBlock *breakTo, *continueTo;
    size_t scopeDepth;
  };
  FuncDecl *func_ = nullptr;
  llvm::Function *fn_ = nullptr;
  llvm::IRBuilder<> allocas_;
  std::unordered_map<const Binding *, llvm::Value *> slots_;     // alloca (or borrowed pointer)
  std::unordered_map<const Binding *, llvm::Value *> dropFlags_; // i1 allocas
  std::vector<Scope> scopes_;
  std::vector<Loop> loops_;
  const DropPlan *plan_ = nullptr;
};

} // namespace npk
