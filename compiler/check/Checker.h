// The checker resolves names and types over the whole program and enforces
// the Result convention (LANGUAGE.md §2-5). It annotates the AST in place:
// every expression gets a type, names and calls get their targets, locals get
// dense ids. A failed type becomes the error type, which silences follow-on
// diagnostics about the same expression.
#pragma once

#include "ast/AST.h"
#include "ast/Program.h"
#include "check/ConstEval.h"
#include "check/Types.h"
#include "diag/Diag.h"

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace npk {

// Program-wide symbols, filled before any body is checked.
struct Symbols {
  std::map<std::string, FuncDecl *> funcs;                        // by plain name
  std::map<std::string, std::map<std::string, FuncDecl *>> typeBlocks; // block -> member -> func
  std::map<std::string, ExternDecl *> externs; // visible to importers (not those named like a builtin)
  // Each module's own externs by name (the first of a name): in that module
  // the name means the C function, before builtins and imports (A1.5).
  std::map<std::pair<const Module *, std::string>, ExternDecl *> moduleExterns;
  std::map<std::string, std::vector<ExternDecl *>> externsNamed; // every declaration of a C symbol
  std::map<std::string, StructDecl *> structs;
  std::map<std::string, GlobalDecl *> globals; // module-level bindings (LANGUAGE-2 A5)
  std::map<std::string, Module *> declaredIn; // any top-level name -> module
  std::map<std::string, Span> firstDeclared;  // any top-level name -> its first declaration's name
  FuncDecl *main = nullptr;
  FuncDecl *failsafe = nullptr;
  std::vector<FuncDecl *> allFuncs; // every function with a body, in program order
};

class Checker {
public:
  Checker(const SourceManager &sm, Program &program, TypeContext &types, DiagEngine &diags)
      : sm_(sm), program_(program), types_(types), diags_(diags) {}
  void run();
  const Symbols &symbols() const { return syms_; }

private:
  // ---- declarations (CheckDecl.cpp)
  void collect(Module &m);
  bool declareName(const std::string &name, Span at, Module &m);
  void collectFunc(FuncDecl &f, Module &m);
  void resolveSignatures();
  void resolveFunc(FuncDecl &f);
  void checkImpls(Module &m);
  struct StructPathStep {
    StructDecl *decl;
    size_t nextField; // the field after the one being followed
  };
  void checkStructCycles();
  void reportStructCycle(std::vector<StructPathStep> cycle, const std::unordered_map<const StructDecl *, size_t> &index);
  void checkMainAndFailsafe();
  const Ty *resolveType(const TypeExpr &t, bool inExtern);
  const Ty *resolveFuncType(const FuncTypeExpr &f);
  // A local array, a by-value parameter and a returned value live on the stack.
  static constexpr uint64_t kMaxStackValueBytes = uint64_t{1} << 20;
  static constexpr uint64_t kMaxGlobalBytes = uint64_t{1} << 30;
  void checkByValueSize(const Ty *t, Span at, bool isReturn);
  const Ty *resolveArrayType(const TypeExpr &t, bool inExtern);
  bool crossesCBoundary(const Ty *t, Span at);
  void resolveExtern(ExternDecl &e);
  void checkExternRedeclarations();
  std::string externSignature(const ExternDecl &e) const;
  bool visible(const Module &from, const std::string &name) const;

  // ---- module-level bindings and constants (CheckGlobal.cpp)
  void collectGlobals(Module &m);
  void resolveGlobals();
  void resolveGlobalType(GlobalDecl &g);
  void checkGlobals();
  void checkGlobal(GlobalDecl &g);
  void reportGlobalCycle(GlobalDecl &g, Span use);
  const Ty *checkGlobalName(NameExpr &e, GlobalDecl &g);
  void reportNotConstant(const Expr &why, const std::string &what);
  std::optional<ConstValue> constValue(const Expr &e, const Ty *t, const Expr *&why);
  std::optional<double> floatConstant(const Expr &e, const Expr *&why);
  const Expr *firstNonConstant(const Expr &e) const;

  // ---- statements (CheckStmt.cpp)
  void checkFunc(FuncDecl &f);
  void checkBlock(BlockStmt &b);
  void checkStmt(Stmt &s);
  void checkVarDecl(VarDeclStmt &s);
  void checkLocalArray(const VarDeclStmt &s);
  void checkAssign(AssignStmt &s);
  void checkIf(IfStmt &s);
  void checkPass(PassStmt &s);
  void checkFail(FailStmt &s);
  void checkReturn(ReturnStmt &s);
  void checkMainReturn(ReturnStmt &s);
  void checkExit(ExitStmt &s);
  void checkFailsafeStatus(const ExitStmt &s);
  void checkCondition(Expr &cond, const char *what);
  bool terminates(const Stmt &s) const;
  void checkExprStmt(ExprStmt &s);

  // ---- expressions (CheckExpr.cpp)
  const Ty *checkExpr(Expr &e, const Ty *expected = nullptr);
  const Ty *checkValue(Expr &e, const Ty *expected = nullptr); // rejects Result/NIL values
  void coerce(Expr &e, const Ty *target, const char *context);
  bool convertible(const Ty *from, const Ty *to) const;
  const Ty *checkIntLit(IntLitExpr &e, const Ty *expected);
  const Ty *checkFloatLit(FloatLitExpr &e, const Ty *expected);
  const Ty *suffixType(IntSuffix suffix);
  void markLiteral(Expr &e, const Ty *t);
  const Ty *checkName(NameExpr &e);
  const Ty *checkUnary(UnaryExpr &e, const Ty *expected);
  const Ty *checkBinary(BinaryExpr &e, const Ty *expected);
  const Ty *checkCast(CastExpr &e);
  const Ty *checkLayout(LayoutExpr &e);
  const Ty *checkIs(IsExpr &e, const Ty *expected);
  const Ty *checkIndex(IndexExpr &e);
  const Ty *checkMember(MemberExpr &e);
  const Ty *checkRaw(RawExpr &e);
  const Ty *checkDrop(DropExpr &e);
  const Ty *checkDefault(DefaultExpr &e);
  const Ty *checkStructLit(StructLitExpr &e, const Ty *expected);
  const Ty *checkArrayLit(ArrayLitExpr &e, const Ty *expected);
  void checkConstantIndex(IndexExpr &e, const Ty *array);
  const Ty *checkTemplate(TemplateExpr &e);
  std::optional<__int128> literalValue(const Expr &e) const;
  bool fits(__int128 v, const Ty *t) const;
  void resultAsValueError(Expr &e, const char *context);

  // ---- constants (CheckConst.cpp)
public:
  // The value of an integer expression made of constants, once it is checked.
  std::optional<__int128> constantValue(const Expr &e) const;

private:
  void foldConstant(Expr &e, const Ty *t);
  void checkKnownTrap(BinaryOp op, const Expr &lhs, __int128 rhs, const Ty *t, Span at, bool compound);
  void reportConstantTrap(Span at, Folded::Trap trap, const std::string &text, const Ty *t,
                          std::optional<__int128> lhs, std::optional<__int128> rhs);

  // ---- calls (CheckCall.cpp)
  const Ty *checkFuncValue(UnaryExpr &e);
  bool holdsFuncValue(const Ty *t, std::string &path);
  const Ty *checkJitConversion(CastExpr &e, const Ty *from, const Ty *to);
  const Ty *checkValueCall(CallExpr &e);
  bool resolveFunctionName(NameExpr &n, FuncDecl *&f, ExternDecl *&x);
  bool namesTypeMember(const MemberExpr &m);
  FuncDecl *resolveTypeMember(MemberExpr &m);
  const Ty *funcValueType(const FuncDecl &f);
  const Ty *funcValueType(const ExternDecl &x);
  const Ty *checkCall(CallExpr &e);
  const Ty *checkBuiltinCall(CallExpr &e);
  void checkArgs(CallExpr &e, const std::vector<const Ty *> &params, const std::vector<uint8_t> &quals,
                 const std::string &what, Span declaredAt);
  void checkArrayDecay(Expr &arg, const Ty *t, const Ty *param, bool constParam, const std::string &what);
  void checkCStringLiterals(const CallExpr &e, const ExternDecl &x);
  const Ty *checkExternCall(CallExpr &e, ExternDecl &x);
  void checkVariadicArg(Expr &arg, const ExternDecl &x, size_t index);
  bool coerceToExtern(Expr &arg, const Ty *param, size_t index, const ExternDecl &x);
  ExternDecl *ownExtern(const std::string &name) const;
  FuncDecl *lookupMember(const std::string &block, const std::string &member, Span at);

  // Local scopes.
  Binding *lookupLocal(const std::string &name);
  void declareLocal(Binding &b);
  void pushScope() { scopes_.emplace_back(); }
  void popScope() { scopes_.pop_back(); }

  // `.value` is readable only where `.is_error` is known to be false
  // (Narrowing.cpp).
  void okWhen(const Expr &cond, bool outcome, std::vector<const Binding *> &ok) const;
  void narrow(const Expr &cond, bool outcome); // pushes what `cond == outcome` proves
  bool knownOk(const Binding *b) const;
  void forget(const Binding *b);
  void forgetAssignedIn(const Stmt &region);
  void checkLoopBody(const Expr *cond, BlockStmt &body, Stmt *step);
  void checkCountedLoop(LoopStmt &l);
  void checkWhen(WhileStmt &w);
  const Ty *checkCounter(CounterExpr &e);
  void checkPick(PickStmt &p);
  void checkFall(FallStmt &f);
  std::optional<__int128> patternValue(Expr &e, const Ty *t);
  std::optional<bool> boolConstant(const Expr &e) const;
  const Binding *storageRoot(const Expr &e) const;

  std::string sourceText(Span s) const { return std::string(sm_.text(s)); }

  const SourceManager &sm_;
  Program &program_;
  TypeContext &types_;
  DiagEngine &diags_;
  Symbols syms_;

  Module *module_ = nullptr;    // module whose body is being checked
  FuncDecl *func_ = nullptr;    // function whose body is being checked
  // A block's bindings by name: the first declaration (for a redefinition
  // report) and the latest (what a name refers to).
  struct ScopeEntry {
    Binding *first = nullptr;
    Binding *latest = nullptr;
  };
  std::vector<std::unordered_map<std::string, ScopeEntry>> scopes_;
  std::vector<const Binding *> okResults_; // Result bindings known not to be errors here
  std::unordered_map<const Expr *, __int128> constants_; // folded integer constants
  std::unordered_map<const Binding *, ConstValue> constLocals_; // the values of local `const` bindings
  std::vector<GlobalDecl *> globalsInProgress_; // initializers being checked, outermost first (cycles)
  int loopDepth_ = 0;
  std::vector<LoopStmt *> countedLoops_; // enclosing `loop`/`till` statements, innermost last (`$`)
  int deferDepth_ = 0;
  // Enclosing `pick` statements, innermost last, with the arm being checked
  // (`fall`).
  struct PickFrame {
    PickStmt *pick = nullptr;
    size_t arm = 0;
  };
  std::vector<PickFrame> picks_;
};

} // namespace npk
