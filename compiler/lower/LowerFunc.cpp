#include "lower/Lowerer.h"

#include <llvm/IR/Verifier.h>

namespace npk {

NirFuncs NirFuncs::of(nir::Module &m) {
  NirFuncs funcs;
  funcs.forEach = [&m](const std::function<void(nir::Func &)> &lower) {
    for (nir::Func &f : m.funcs) lower(f);
  };
  for (const nir::Func &f : m.funcs)
    if (f.plainReturn) funcs.plainReturn.insert(f.decl);
  return funcs;
}

std::unique_ptr<llvm::Module> lowerProgram(std::unique_ptr<llvm::Module> target, const SourceManager &sm,
                                           Program &program, const Symbols &syms, NirFuncs nir,
                                           TypeContext &types, const LowerOptions &options) {
  llvm::LLVMContext &ctx = target->getContext();
  Lowerer l(ctx, sm, program, syms, nir);
  l.types_ = &types;
  l.mod_ = std::move(target);
  l.options_ = options;
  return l.run();
}

Lowerer::Lowerer(llvm::LLVMContext &ctx, const SourceManager &sm, Program &program, const Symbols &syms,
                 NirFuncs &nir)
    : ctx_(ctx), sm_(sm), program_(program), syms_(syms), nir_(nir), b_(ctx), allocas_(ctx) {}

std::unique_ptr<llvm::Module> Lowerer::run() {
  if (options_.debugInfo) debug_ = std::make_unique<DebugInfo>(*this, options_.optimized);
  plainReturn_ = std::move(nir_.plainReturn);
  for (FuncDecl *f : syms_.allFuncs) declareFunc(*f);
  for (auto &m : program_.modules)
    for (auto &g : m->globals) defineGlobal(*g);
  // Each function's NIR and the statements of its body go once it is
  // lowered: nothing reads them again (a call or `@f` needs only the
  // declaration), and their memory serves the IR of the functions after it.
  std::unordered_map<const FuncDecl *, FuncDecl *> decls;
  for (FuncDecl *f : syms_.allFuncs) decls.emplace(f, f);
  nir_.forEach([&](nir::Func &f) {
    lowerFunc(f);
    f.blocks = {};
    f.sites = {};
    f.subs = {};
    if (FuncDecl *d = decls[f.decl]) d->body.reset();
  });
  emitResultThunks();
  emitEntryPoint();
  defineTrapTable();
  if (debug_) debug_->finalize();
  return std::move(mod_);
}

llvm::Type *Lowerer::llvmType(const Ty *t) {
  switch (t->kind) {
  case TyKind::Int: return llvm::IntegerType::get(ctx_, t->bits);
  case TyKind::Tbb32: return b_.getInt32Ty();
  case TyKind::Bool: return b_.getInt1Ty();
  case TyKind::Float: return t->bits == 32 ? b_.getFloatTy() : b_.getDoubleTy();
  // A `string` is {bytes, length} (npk_string in npk/runtime.h). Invariant:
  // the bytes are always followed by a NUL that the length does not count, so
  // an extern receives the pointer as a C string without a copy. Every value
  // keeps it: literals (stringValue), copies of C strings
  // (npk_string_from_c) and zero values (zeroValue, which is ""). The one
  // exception, all-zero bytes read from never-written `alloc` memory, passes
  // to C as "" (cStringArg).
  case TyKind::String: return llvm::StructType::get(ctx_, {b_.getPtrTy(), b_.getInt64Ty()});
  case TyKind::Ptr:
  case TyKind::Null:
  case TyKind::Func: return b_.getPtrTy(); // a function value is one code pointer (LANGUAGE-2 A7)
  case TyKind::Struct: {
    auto it = structs_.find(t->decl);
    if (it != structs_.end()) return it->second;
    llvm::StructType *st = llvm::StructType::create(ctx_, t->decl->name);
    structs_[t->decl] = st;
    std::vector<llvm::Type *> fields;
    for (const FieldDecl &f : t->decl->fields) fields.push_back(llvmType(f.ty));
    st->setBody(fields);
    return st;
  }
  case TyKind::Result: return resultType(t->resultValue());
  case TyKind::Array: return llvm::ArrayType::get(llvmType(t->element()), t->length); // inline, as C's `T a[N]`
  case TyKind::Nil:
  case TyKind::Void:
  case TyKind::Error: return b_.getVoidTy();
  }
  return b_.getVoidTy();
}

// A module-level binding (LANGUAGE-2 A5): static storage holding the value
// the checker computed. `const` and `fixed` storage is read-only data, so a
// write through `@` of a `fixed` global faults. Internal linkage: globals are
// not C symbols.
// A write through `@` of a `fixed` global must reach the hardware and fault;
// lowerUnary hides where such a pointer comes from (launderPointer), because
// the optimiser may delete a store it can see going to constant memory.
void Lowerer::defineGlobal(const GlobalDecl &g) {
  const Ty *t = g.ty();
  auto *var = new llvm::GlobalVariable(*mod_, llvmType(t), g.kind != GlobalDecl::Kind::Var,
                                       llvm::GlobalValue::InternalLinkage, constant(g.value, t), g.symbol);
  globals_[&g] = var;
  if (debug_) debug_->declareGlobal(g, var);
}

llvm::Constant *Lowerer::constant(const ConstValue &v, const Ty *t) {
  switch (v.kind) {
  case ConstValue::Kind::Zero: return zeroValue(t);
  case ConstValue::Kind::Int:
    return llvm::ConstantInt::get(llvmType(t), llvm::APInt(t->kind == TyKind::Tbb32 ? 32 : t->bits,
                                                           static_cast<uint64_t>(v.i), t->isSigned));
  case ConstValue::Kind::Float: return llvm::ConstantFP::get(llvmType(t), v.f);
  case ConstValue::Kind::Bool: return b_.getInt1(v.i != 0);
  case ConstValue::Kind::String: return stringValue(v.s);
  case ConstValue::Kind::Null: return llvm::ConstantPointerNull::get(b_.getPtrTy());
  case ConstValue::Kind::Aggregate: {
    if (t->isArray()) {
      std::vector<llvm::Constant *> elems;
      for (const ConstValue &e : v.elems) elems.push_back(constant(e, t->element()));
      return llvm::ConstantArray::get(llvm::cast<llvm::ArrayType>(llvmType(t)), elems);
    }
    std::vector<llvm::Constant *> fields;
    for (size_t i = 0; i < t->decl->fields.size(); ++i) fields.push_back(constant(v.elems[i], t->decl->fields[i].ty));
    return llvm::ConstantStruct::get(llvm::cast<llvm::StructType>(llvmType(t)), fields);
  }
  case ConstValue::Kind::Func:
    return v.func ? llvm::cast<llvm::Constant>(funcValue(*v.func)) : declareExtern(*v.ext);
  }
  return zeroValue(t);
}

// The value a binding without an initializer holds: zero, NULL, false, and
// "" for strings (so that the NUL-termination invariant holds), field by field.
llvm::Constant *Lowerer::zeroValue(const Ty *t) {
  llvm::Type *llt = llvmType(t);
  switch (t->kind) {
  case TyKind::String:
    return stringValue("");
  case TyKind::Struct: {
    std::vector<llvm::Constant *> fields;
    for (const FieldDecl &f : t->decl->fields) fields.push_back(zeroValue(f.ty));
    return llvm::ConstantStruct::get(llvm::cast<llvm::StructType>(llt), fields);
  }
  case TyKind::Array: {
    llvm::Constant *element = zeroValue(t->element());
    if (element->isNullValue()) return llvm::ConstantAggregateZero::get(llt);
    return llvm::ConstantArray::get(llvm::cast<llvm::ArrayType>(llt),
                                    std::vector<llvm::Constant *>(t->length, element));
  }
  case TyKind::Result: {
    std::vector<llvm::Constant *> parts = {b_.getFalse(), b_.getInt32(0)};
    if (!t->resultValue()->isNil()) parts.push_back(zeroValue(t->resultValue()));
    return llvm::ConstantStruct::get(llvm::cast<llvm::StructType>(llt), parts);
  }
  default: return llvm::Constant::getNullValue(llt);
  }
}

// The C type of an extern parameter or return: a `string` crosses as the
// `const char*` to its bytes (LANGUAGE-2 A1.2); other types as they are.
llvm::Type *Lowerer::cType(const Ty *t) { return t->kind == TyKind::String ? b_.getPtrTy() : llvmType(t); }

llvm::StructType *Lowerer::resultType(const Ty *value) {
  if (value->isNil()) return llvm::StructType::get(ctx_, {b_.getInt1Ty(), b_.getInt32Ty()});
  return llvm::StructType::get(ctx_, {b_.getInt1Ty(), b_.getInt32Ty(), llvmType(value)});
}

// Declarations of the runtime entry points the generated code calls, from
// their one list (npk/runtime_calls.def).
llvm::FunctionCallee Lowerer::runtime(RuntimeFn which) {
  llvm::FunctionCallee &known = runtimeFns_[static_cast<size_t>(which)];
  if (known) return known;
  llvm::Type *VOID = b_.getVoidTy(), *I32 = b_.getInt32Ty(), *U32 = I32, *I64 = b_.getInt64Ty(), *U64 = I64;
  llvm::Type *F32 = b_.getFloatTy(), *F64 = b_.getDoubleTy(), *STRING = llvmType(types_->string());
  llvm::Type *PTR = b_.getPtrTy(), *CPTR = PTR, *CSTR = PTR, *CSTRS = PTR, *I64P = PTR, *FAILSAFE = PTR, *TRAPS = PTR;
  struct Sig {
    const char *name;
    llvm::Type *ret;
    std::vector<llvm::Type *> params;
    int attributes; // runtime_calls.def: 1 never returns, 2 returns fresh memory
  };
#define NPK_UNPAREN(...) __VA_ARGS__
#define NPK_RUNTIME_CALL(name, ret, params, attributes) {#name, ret, {NPK_UNPAREN params}, attributes},
  const Sig sigs[] = {
#include "npk/runtime_calls.def"
  };
#undef NPK_UNPAREN
  const Sig &s = sigs[static_cast<size_t>(which)];
  auto *fnTy = llvm::FunctionType::get(s.ret, s.params, false);
  llvm::FunctionCallee callee = mod_->getOrInsertFunction(s.name, fnTy);
  if (auto *fn = llvm::dyn_cast<llvm::Function>(callee.getCallee())) {
    if (s.attributes == 1) fn->setDoesNotReturn();
    if (s.attributes == 2) fn->addRetAttr(llvm::Attribute::NoAlias);
    fn->setDoesNotThrow();
  }
  return known = callee;
}

// The value `@f`: the function itself, or for a function that returns its
// plain value a thunk with the Result ABI every function value has (its body
// is emitted after every function, by emitResultThunks).
llvm::Value *Lowerer::funcValue(const FuncDecl &f) {
  if (!returnsPlain(f)) return funcs_.at(&f);
  llvm::Function *&thunk = resultThunks_[&f];
  if (thunk) return thunk;
  const Ty *fnTy = funcType(f);
  thunk = llvm::Function::Create(funcValueType(fnTy), llvm::Function::InternalLinkage, f.symbol + ".value", mod_.get());
  thunk->addFnAttr(llvm::Attribute::NoUnwind);
  addMemoryABI(*thunk, fnTy, false);
  thunkOrder_.push_back(&f);
  return thunk;
}

void Lowerer::emitResultThunks() {
  for (const FuncDecl *f : thunkOrder_) {
    llvm::Function *thunk = resultThunks_.at(f);
    enterGenerated(thunk, *f);
    b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", thunk));
    std::vector<llvm::Value *> args;
    for (llvm::Argument &a : thunk->args()) args.push_back(&a);
    const Ty *fnTy = funcType(*f);
    if (!returnsInMemory(fnTy)) {
      llvm::CallInst *v = b_.CreateCall(funcs_.at(f), args);
      addMemoryABI(*v, fnTy, true);
      b_.CreateRet(makeResult(f->ret, b_.getFalse(), b_.getInt32(0), f->ret->isNil() ? nullptr : v));
      continue;
    }
    // The value goes straight into the caller's Result.
    llvm::StructType *rt = resultType(f->ret);
    args[0] = b_.CreateStructGEP(rt, thunk->getArg(0), 2);
    addMemoryABI(*b_.CreateCall(funcs_.at(f), args), fnTy, true);
    b_.CreateStore(b_.getFalse(), b_.CreateStructGEP(rt, thunk->getArg(0), 0));
    b_.CreateStore(b_.getInt32(0), b_.CreateStructGEP(rt, thunk->getArg(0), 1));
    b_.CreateRetVoid();
  }
}

// The function type of `f` (what `@f` has).
const Ty *Lowerer::funcType(const FuncDecl &f) {
  const Ty *&known = funcTypes_[&f];
  if (known) return known;
  std::vector<const Ty *> paramTys;
  std::vector<uint8_t> quals;
  for (auto &p : f.params) {
    paramTys.push_back(p->binding.ty);
    quals.push_back(p->binding.quals & ~QualFixed);
  }
  return known = types_->func(f.ret, paramTys, quals, false);
}

// ---- How values cross a call of a Nitpick function ----
// A value larger than kLargeValueBytes (largeValue) crosses in memory, the
// way C passes a large struct: a by-value parameter as the address of the
// callee's own copy (`byval`); the returned value, or its Result, through
// the address of the caller's slot, passed first (`sret`). Every other value
// crosses in registers. C functions take and return no such values
// (NPK-T016).
bool Lowerer::returnsInMemory(const Ty *fnTy) { return !fnTy->isExtern && largeValue(fnTy->funcRet()); }

bool Lowerer::passesInMemory(const Ty *fnTy, size_t i) {
  return !fnTy->isExtern && !(fnTy->paramQuals[i] & (QualBorrowMut | QualBorrowImm)) && largeValue(fnTy->params[i]);
}

namespace {
template <typename Target>
void addAttributes(Target &target, const std::vector<std::pair<unsigned, llvm::Attribute>> &attributes) {
  for (auto &[index, attribute] : attributes) target.addParamAttr(index, attribute);
}
} // namespace

// The `sret`/`byval` attributes of a function of type fnTy (or of a call of
// one); `plain` for one that returns its value rather than a Result.
std::vector<std::pair<unsigned, llvm::Attribute>> Lowerer::memoryABI(const Ty *fnTy, bool plain) {
  std::vector<std::pair<unsigned, llvm::Attribute>> attributes;
  unsigned first = 0;
  const llvm::DataLayout &dl = mod_->getDataLayout();
  if (returnsInMemory(fnTy)) {
    llvm::Type *out = plain ? llvmType(fnTy->funcRet()) : resultType(fnTy->funcRet());
    attributes.push_back({0, llvm::Attribute::getWithStructRetType(ctx_, out)});
    attributes.push_back({0, llvm::Attribute::get(ctx_, llvm::Attribute::NoAlias)});
    first = 1;
  }
  for (size_t i = 0; i < fnTy->params.size(); ++i) {
    if (!passesInMemory(fnTy, i)) continue;
    llvm::Type *ty = llvmType(fnTy->params[i]);
    unsigned index = first + static_cast<unsigned>(i);
    attributes.push_back({index, llvm::Attribute::getWithByValType(ctx_, ty)});
    attributes.push_back({index, llvm::Attribute::getWithAlignment(ctx_, dl.getABITypeAlign(ty))});
  }
  return attributes;
}

void Lowerer::addMemoryABI(llvm::Function &fn, const Ty *fnTy, bool plain) { addAttributes(fn, memoryABI(fnTy, plain)); }
void Lowerer::addMemoryABI(llvm::CallBase &call, const Ty *fnTy, bool plain) {
  addAttributes(call, memoryABI(fnTy, plain));
}

// The LLVM signature behind a function type: a Nitpick function passes
// `Result<R>` and takes borrowed structs by address, large values in memory
// (returnsInMemory, passesInMemory); an `extern` one has the C signature of
// an extern declaration. declareFunc and declareExtern use it, so a function
// value's call matches every function it can hold.
llvm::FunctionType *Lowerer::funcValueType(const Ty *fnTy) {
  std::vector<llvm::Type *> params;
  bool out = returnsInMemory(fnTy);
  if (out) params.push_back(b_.getPtrTy());
  for (size_t i = 0; i < fnTy->params.size(); ++i) {
    bool byRef = (fnTy->paramQuals[i] & (QualBorrowMut | QualBorrowImm)) || passesInMemory(fnTy, i);
    params.push_back(byRef ? b_.getPtrTy() : fnTy->isExtern ? cType(fnTy->params[i]) : llvmType(fnTy->params[i]));
  }
  llvm::Type *ret = out ? b_.getVoidTy() : fnTy->isExtern ? cType(fnTy->funcRet()) : resultType(fnTy->funcRet());
  return llvm::FunctionType::get(ret, params, false);
}

llvm::Function *Lowerer::declareFunc(FuncDecl &f) {
  const Ty *ty = funcType(f);
  llvm::FunctionType *fnTy = funcValueType(ty);
  // A function that never fails returns its value itself (nir/ResultElision.cpp).
  bool out = returnsInMemory(ty);
  if (returnsPlain(f) && !out)
    fnTy = llvm::FunctionType::get(f.ret->isNil() ? b_.getVoidTy() : llvmType(f.ret), fnTy->params(), false);
  auto *fn = llvm::Function::Create(fnTy, llvm::Function::InternalLinkage, f.symbol, mod_.get());
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  addMemoryABI(*fn, ty, returnsPlain(f));
  if (out) fn->getArg(0)->setName("result");
  for (size_t i = 0; i < f.params.size(); ++i)
    fn->getArg(static_cast<unsigned>(i) + (out ? 1 : 0))->setName(f.params[i]->binding.name);
  funcs_[&f] = fn;
  return fn;
}

// A call of a Nitpick function, direct or through a function value, with
// its arguments' values; returns the Result the callee passes (made here
// for a callee that returns its plain value, `plain`).
llvm::Value *Lowerer::callFunction(llvm::FunctionType *llvmTy, llvm::Value *callee, const Ty *fnTy, bool plain,
                                   std::vector<llvm::Value *> args) {
  for (size_t i = 0; i < args.size(); ++i)
    if (passesInMemory(fnTy, i)) args[i] = valueInMemory(args[i], fnTy->params[i]);
  const Ty *ret = fnTy->funcRet();
  llvm::StructType *rt = resultType(ret);
  llvm::AllocaInst *out = returnsInMemory(fnTy) ? privateSlot(rt) : nullptr;
  if (out) args.insert(args.begin(), plain ? b_.CreateStructGEP(rt, out, 2) : out);
  llvm::CallInst *call = b_.CreateCall(llvmTy, callee, args);
  addMemoryABI(*call, fnTy, plain);
  if (out) {
    if (plain) {
      b_.CreateStore(b_.getFalse(), b_.CreateStructGEP(rt, out, 0));
      b_.CreateStore(b_.getInt32(0), b_.CreateStructGEP(rt, out, 1));
    }
    return b_.CreateLoad(rt, out); // a large value (storeValue)
  }
  // A callee that never fails returns its plain value: the Result it would
  // have passed, which the optimiser sees through.
  if (plain) return makeResult(ret, b_.getFalse(), b_.getInt32(0), ret->isNil() ? nullptr : call);
  return call;
}

// The C signature of an extern: its named parameters, `...` for `..?`.
llvm::FunctionType *Lowerer::externType(const ExternDecl &e) {
  llvm::FunctionType *named =
      funcValueType(types_->func(e.ret, e.paramTys, std::vector<uint8_t>(e.paramTys.size(), QualNone), true));
  return llvm::FunctionType::get(named->getReturnType(), named->params(), e.variadic);
}

namespace {
// How C widens a small integer or `_Bool` crossing in a register (LANGUAGE-2
// A1.1): clang marks such parameters and returns `signext`/`zeroext` by
// signedness, on the declaration and on each call, and the callee or caller
// relies on the upper bits. None for other types.
llvm::Attribute::AttrKind cExtension(const Ty *t) {
  if (t->kind == TyKind::Bool) return llvm::Attribute::ZExt;
  if (t->isInt() && t->bits < 32) return t->isSigned ? llvm::Attribute::SExt : llvm::Attribute::ZExt;
  return llvm::Attribute::None;
}

// `signext`/`zeroext` on an extern declaration or a call of C code.
template <typename Target> void addExtensions(Target &target, const Ty *ret, const std::vector<const Ty *> &params) {
  if (auto k = cExtension(ret); k != llvm::Attribute::None) target.addRetAttr(k);
  for (size_t i = 0; i < params.size(); ++i)
    if (auto k = cExtension(params[i]); k != llvm::Attribute::None) target.addParamAttr(static_cast<unsigned>(i), k);
}
} // namespace

void Lowerer::addCExtensions(llvm::Function &fn, const Ty *ret, const std::vector<const Ty *> &params) {
  addExtensions(fn, ret, params);
}
void Lowerer::addCExtensions(llvm::CallBase &call, const Ty *ret, const std::vector<const Ty *> &params) {
  addExtensions(call, ret, params);
}

// Several modules may declare one C function (with one signature, which the
// checker enforces); they share its declaration. The runtime's own symbols
// (`npk_free`) may already be declared for the runtime calls: calls then use
// the extern's own type.
llvm::Function *Lowerer::declareExtern(ExternDecl &e) {
  auto it = externs_.find(&e);
  if (it != externs_.end()) return it->second;
  llvm::Function *fn = mod_->getFunction(e.name);
  if (!fn) {
    fn = llvm::Function::Create(externType(e), llvm::Function::ExternalLinkage, e.name, mod_.get());
    addCExtensions(*fn, e.ret, e.paramTys);
  }
  externs_[&e] = fn;
  return fn;
}

llvm::Constant *Lowerer::locString(Span s) { return stringConstant(sm_.describe(s)); }

// The `string` value of a literal: its constant bytes and their count.
llvm::Constant *Lowerer::stringValue(const std::string &s) {
  return llvm::ConstantStruct::get(llvm::cast<llvm::StructType>(llvmType(types_->string())),
                                   {stringConstant(s), b_.getInt64(static_cast<int64_t>(s.size()))});
}

// A NUL-terminated private constant (the NUL follows s's own bytes, which
// may contain NULs); returns its address.
llvm::Constant *Lowerer::stringConstant(const std::string &s) {
  auto it = strings_.find(s);
  if (it != strings_.end()) return it->second;
  llvm::Constant *data = llvm::ConstantDataArray::getString(ctx_, s, true);
  auto *gv = new llvm::GlobalVariable(*mod_, data->getType(), true, llvm::GlobalValue::PrivateLinkage, data, ".str");
  gv->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
  gv->setAlignment(llvm::Align(1));
  strings_[s] = gv;
  return gv;
}

llvm::Value *Lowerer::makeResult(const Ty *value, llvm::Value *isError, llvm::Value *err, llvm::Value *val) {
  llvm::StructType *rt = resultType(value);
  llvm::Value *r = llvm::UndefValue::get(rt);
  r = b_.CreateInsertValue(r, isError, 0);
  r = b_.CreateInsertValue(r, err, 1);
  if (!value->isNil()) r = b_.CreateInsertValue(r, val ? val : zeroValue(value), 2);
  return r;
}

void Lowerer::lowerFunc(const nir::Func &nf) {
  const FuncDecl &f = *nf.decl;
  func_ = &f;
  fn_ = funcs_.at(&f);
  resultOut_ = returnsInMemory(funcType(f)) ? fn_->getArg(0) : nullptr;
  slots_.clear();
  dropFlags_.clear();
  counted_.clear();
  trapBlock_ = {};
  dropCount_ = 0;
  if (debug_) debug_->beginFunction(f, fn_);
  b_.SetCurrentDebugLocation({}); // each NIR instruction sets its own
  auto *entry = llvm::BasicBlock::Create(ctx_, "entry", fn_); // the allocas
  allocas_.SetInsertPoint(entry);
  lowerBody(nf);
  allocas_.CreateBr(&*std::next(fn_->begin()));
  if (trapBlock_.block) trapBlock_.block->moveAfter(&fn_->back()); // cold: last
  // A block left open (only possible after a noreturn call) ends unreachable.
  // An aggregate whose parts were read or stored one by one instead (part,
  // storeValue) goes: instruction selection would still split a load into
  // every element, and -O0's fast selector gives up on an `insertvalue`.
  for (llvm::BasicBlock &bb : *fn_) {
    for (llvm::Instruction &i : llvm::make_early_inc_range(llvm::reverse(bb)))
      if ((llvm::isa<llvm::LoadInst>(i) || llvm::isa<llvm::InsertValueInst>(i)) && i.getType()->isAggregateType() &&
          i.use_empty())
        i.eraseFromParent();
    if (!bb.getTerminator()) {
      b_.SetInsertPoint(&bb);
      b_.CreateUnreachable();
    }
  }
  func_ = nullptr;
}

// Generated code that calls `f` is placed, for a debugger, at f's name.
void Lowerer::enterGenerated(llvm::Function *fn, const FuncDecl &f) {
  b_.SetCurrentDebugLocation({});
  if (!debug_) return;
  debug_->beginArtificial(fn, *f.module, f.nameSpan);
  b_.SetCurrentDebugLocation(debug_->location(f.nameSpan));
}

// C `main`: starts the runtime (fault handlers), registers failsafe, runs
// the program's main, exits with the status it returns (0 when it falls off
// its end).
void Lowerer::emitEntryPoint() {
  if (!syms_.main) return;
  if (syms_.failsafe && syms_.failsafe->ret) {
    auto *entryTy = llvm::FunctionType::get(b_.getInt32Ty(), {b_.getInt32Ty()}, false);
    auto *thunk = llvm::Function::Create(entryTy, llvm::Function::InternalLinkage, "npk_failsafe_entry", mod_.get());
    enterGenerated(thunk, *syms_.failsafe);
    b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", thunk));
    llvm::Value *r = b_.CreateCall(funcs_[syms_.failsafe], {thunk->getArg(0)});
    b_.CreateRet(b_.CreateExtractValue(r, 2));
  }
  auto *mainTy = llvm::FunctionType::get(b_.getInt32Ty(), {b_.getInt32Ty(), b_.getPtrTy()}, false);
  auto *cmain = llvm::Function::Create(mainTy, llvm::Function::ExternalLinkage, "main", mod_.get());
  enterGenerated(cmain, *syms_.main);
  b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", cmain));
  b_.CreateCall(runtime(RuntimeFn::npk_start), {});
  b_.CreateCall(runtime(RuntimeFn::npk_set_args), {cmain->getArg(0), cmain->getArg(1)});
  if (llvm::Function *thunk = mod_->getFunction("npk_failsafe_entry"))
    b_.CreateCall(runtime(RuntimeFn::npk_set_failsafe), {thunk});
  // `main` yields its status: 0 when it falls off its end, `X` for `return X;`.
  llvm::Value *r = b_.CreateCall(funcs_[syms_.main], {});
  b_.CreateCall(runtime(RuntimeFn::npk_exit), {b_.CreateExtractValue(r, 2, "status")});
  b_.CreateUnreachable();
}

} // namespace npk
