#include "lower/DebugInfo.h"

#include "lower/Lowerer.h"

#include "ast/Walk.h"

#include <llvm/BinaryFormat/Dwarf.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Path.h>

#include <algorithm>

namespace npk {

DebugInfo::DebugInfo(Lowerer &lowerer, bool optimized) : l_(lowerer), optimized_(optimized) {
  llvm::Module &m = *l_.mod_;
  // DWARF 4: gdb 13 misreads a program whose LLVM-made DWARF 5 unit sits
  // beside the GCC-made DWARF 5 units of the runtime (it drops the
  // runtime's line tables with a .debug_aranges warning).
  m.addModuleFlag(llvm::Module::Warning, "Dwarf Version", 4);
  m.addModuleFlag(llvm::Module::Warning, "Debug Info Version", llvm::DEBUG_METADATA_VERSION);
}

DebugInfo::~DebugInfo() = default;

void DebugInfo::finalize() {
  for (auto &[module, builder] : units_) builder->finalize();
}

// A DIFile names the file as a debugger matches it (`break file.npk:LINE`):
// its base name in its absolute directory.
llvm::DIFile *DebugInfo::file(uint32_t fileId) {
  auto it = files_.find(fileId);
  if (it != files_.end()) return it->second;
  llvm::SmallString<256> path(fileId ? l_.sm_.file(fileId).path : std::string("<unknown>"));
  llvm::sys::fs::make_absolute(path);
  llvm::sys::path::remove_dots(path, true);
  llvm::DIFile *f = types_->createFile(llvm::sys::path::filename(path), llvm::sys::path::parent_path(path));
  files_[fileId] = f;
  return f;
}

llvm::DIBuilder &DebugInfo::unitOf(const Module &m) {
  auto it = units_.find(&m);
  if (it != units_.end()) return *it->second;
  auto builder = std::make_unique<llvm::DIBuilder>(*l_.mod_);
  llvm::DIBuilder &b = *builder;
  units_[&m] = std::move(builder);
  if (!types_) types_ = &b;
  compileUnits_[&m] =
      b.createCompileUnit(llvm::dwarf::DW_LANG_C, file(m.fileId), "npkc " NPK_VERSION, optimized_, "", 0);
  return b;
}

void DebugInfo::declareGlobal(const GlobalDecl &g, llvm::GlobalVariable *var) {
  llvm::DIBuilder &b = unitOf(*g.module);
  llvm::DIType *t = g.ty() ? type(g.ty()) : nullptr;
  if (!t) return;
  llvm::DIFile *f = file(g.module->fileId);
  var->addDebugInfo(b.createGlobalVariableExpression(compileUnits_.at(g.module), g.name(), "", f,
                                                     lineOf(g.decl->binding.span), t, true));
}

unsigned DebugInfo::lineOf(Span s) const { return s.valid() ? l_.sm_.lineCol(s.file, s.begin).line : 0; }

llvm::DebugLoc DebugInfo::location(Span s) const {
  if (!current_) return {};
  if (!s.valid()) return llvm::DILocation::get(l_.ctx_, 0, 0, current_);
  LineCol lc = l_.sm_.lineCol(s.file, s.begin);
  return llvm::DILocation::get(l_.ctx_, lc.line, lc.charCol, scopeAt(s));
}

// The innermost block scope holding `s`: the last block that starts at or
// before it, or the nearest of that block's parents that also ends after it.
llvm::DIScope *DebugInfo::scopeAt(Span s) const {
  if (!s.valid() || s.file != currentFileId_) return current_;
  auto after = std::upper_bound(blockScopes_.begin(), blockScopes_.end(), s.begin,
                                [](uint32_t at, const BlockScope &b) { return at < b.begin; });
  int i = static_cast<int>(after - blockScopes_.begin()) - 1;
  while (i >= 0 && blockScopes_[i].end <= s.begin) i = blockScopes_[i].parent;
  return i >= 0 ? static_cast<llvm::DIScope *>(blockScopes_[i].scope) : current_;
}

// A lexical block for every block nested in the function's body, in source
// order (pre-order), each after its parent.
void DebugInfo::addBlockScopes(const Stmt &s, int parent) {
  if (auto *block = as<BlockStmt>(&s); block && block->span.valid() && block->span.file == currentFileId_) {
    LineCol lc = l_.sm_.lineCol(block->span.file, block->span.begin);
    llvm::DIScope *outer = parent >= 0 ? static_cast<llvm::DIScope *>(blockScopes_[parent].scope) : current_;
    auto *scope = types_->createLexicalBlock(outer, currentFile_, lc.line, lc.charCol);
    uint32_t end = block->closeSpan.valid() ? block->closeSpan.end : block->span.end;
    blockScopes_.push_back(BlockScope{block->span.begin, end, parent, scope});
    parent = static_cast<int>(blockScopes_.size()) - 1;
  }
  forEachChildStmt(s, [&](const Stmt &child) { addBlockScopes(child, parent); });
}

// A parameter's arrival in its slot is the prologue: it has no location, so
// the prologue ends at the first statement and a debugger's breakpoint on
// the function stops where the parameters already hold their values.
llvm::DebugLoc DebugInfo::location(const nir::Inst &in) const {
  return in.op == nir::Op::Param ? llvm::DebugLoc() : location(in.span);
}

// The name a user writes: `Type.member` for a `Type:` block member,
// `Target.method` for an `impl:Trait:for:Target` method (whose link name the
// checker makes `Target_method`).
static std::string sourceName(const FuncDecl &f) {
  if (!f.typeBlock.empty()) return f.typeBlock + "." + f.name;
  if (f.isDropImpl) return f.symbol.substr(0, f.symbol.size() - f.name.size() - 1) + "." + f.name;
  return f.name;
}

llvm::DISubroutineType *DebugInfo::signature(const FuncDecl &f) {
  std::vector<llvm::Metadata *> types = {l_.returnsPlain(f) ? type(f.ret) : type(l_.types_->result(f.ret))};
  for (auto &p : f.params) {
    llvm::DIType *t = type(p->binding.ty);
    if (p->binding.quals & (QualBorrowMut | QualBorrowImm)) t = types_->createPointerType(t, 64);
    types.push_back(t);
  }
  return types_->createSubroutineType(types_->getOrCreateTypeArray(types));
}

void DebugInfo::beginFunction(const FuncDecl &f, llvm::Function *fn) {
  llvm::DIBuilder &b = unitOf(*f.module);
  currentFile_ = file(f.nameSpan.file);
  unsigned line = lineOf(f.nameSpan);
  unsigned scopeLine = f.body ? lineOf(f.body->span) : line;
  auto spFlags = llvm::DISubprogram::SPFlagDefinition | llvm::DISubprogram::SPFlagLocalToUnit;
  if (optimized_) spFlags |= llvm::DISubprogram::SPFlagOptimized;
  // No linkage name: gdb would show it (`Geo_area`) instead of the source name.
  current_ = b.createFunction(currentFile_, sourceName(f), "", currentFile_, line, signature(f), scopeLine,
                              llvm::DINode::FlagPrototyped, spFlags);
  fn->setSubprogram(current_);
  currentFileId_ = f.nameSpan.file;
  blockScopes_.clear();
  if (f.body) forEachChildStmt(*f.body, [&](const Stmt &s) { addBlockScopes(s, -1); });
}

void DebugInfo::beginArtificial(llvm::Function *fn, const Module &module, Span at) {
  llvm::DIBuilder &b = unitOf(module);
  currentFile_ = file(at.valid() ? at.file : module.fileId);
  unsigned line = lineOf(at);
  auto spFlags = llvm::DISubprogram::SPFlagDefinition;
  if (optimized_) spFlags |= llvm::DISubprogram::SPFlagOptimized;
  if (fn->hasLocalLinkage()) spFlags |= llvm::DISubprogram::SPFlagLocalToUnit;
  auto *sig = b.createSubroutineType(b.getOrCreateTypeArray({}));
  current_ = b.createFunction(currentFile_, fn->getName(), "", currentFile_, line, sig, line,
                              llvm::DINode::FlagArtificial | llvm::DINode::FlagPrototyped, spFlags);
  fn->setSubprogram(current_);
  currentFileId_ = 0;
  blockScopes_.clear();
}

void DebugInfo::declareVariable(const Binding &v, llvm::Value *storage, bool indirect, unsigned argNo,
                                llvm::BasicBlock *entry) {
  if (!current_ || !v.ty) return;
  llvm::DIType *t = type(v.ty);
  if (!t) return;
  unsigned line = lineOf(v.span);
  llvm::DILocalVariable *var =
      argNo ? types_->createParameterVariable(current_, v.name, argNo, currentFile_, line, t, true)
            : types_->createAutoVariable(scopeAt(v.span), v.name, currentFile_, line, t, true);
  llvm::SmallVector<uint64_t, 1> ops;
  if (indirect) ops.push_back(llvm::dwarf::DW_OP_deref);
  types_->insertDeclare(storage, var, types_->createExpression(ops), location(v.span).get(), entry);
}

llvm::DIType *DebugInfo::basicType(const char *name, unsigned bits, unsigned encoding) {
  llvm::DIType *&t = basics_[name];
  if (!t) t = types_->createBasicType(name, bits, encoding);
  return t;
}

// The DWARF type of a Nitpick type, or null for one without values (NIL).
llvm::DIType *DebugInfo::type(const Ty *t) {
  auto it = typeCache_.find(t);
  if (it != typeCache_.end()) return it->second;
  llvm::DIType *d = nullptr;
  switch (t->kind) {
  case TyKind::Int:
    d = basicType(t->str().c_str(), t->bits, t->isSigned ? llvm::dwarf::DW_ATE_signed : llvm::dwarf::DW_ATE_unsigned);
    break;
  case TyKind::Tbb32: d = basicType("tbb32", 32, llvm::dwarf::DW_ATE_signed); break;
  case TyKind::Bool: d = basicType("bool", 8, llvm::dwarf::DW_ATE_boolean); break;
  case TyKind::Float: d = basicType(t->bits == 32 ? "flt32" : "flt64", t->bits, llvm::dwarf::DW_ATE_float); break;
  case TyKind::String: {
    // {bytes, length}: the bytes as C characters, so a debugger shows the text.
    llvm::DICompositeType *s = compositeType("string", l_.llvmType(t), nullptr, 0);
    typeCache_[t] = s;
    llvm::DIType *chars = types_->createPointerType(basicType("char", 8, llvm::dwarf::DW_ATE_unsigned_char), 64);
    llvm::DIType *length = type(l_.types_->int64());
    const llvm::StructLayout *layout = l_.mod_->getDataLayout().getStructLayout(
        llvm::cast<llvm::StructType>(l_.llvmType(t)));
    llvm::Metadata *members[] = {
        types_->createMemberType(s, "bytes", nullptr, 0, 64, 0, layout->getElementOffsetInBits(0),
                                 llvm::DINode::FlagZero, chars),
        types_->createMemberType(s, "length", nullptr, 0, 64, 0, layout->getElementOffsetInBits(1),
                                 llvm::DINode::FlagZero, length)};
    types_->replaceArrays(s, types_->getOrCreateArray(members));
    return s;
  }
  case TyKind::Ptr: {
    // The cache entry first: a struct may point to itself.
    llvm::DIType *pointee = t->pointee ? type(t->pointee) : nullptr;
    auto again = typeCache_.find(t);
    if (again != typeCache_.end()) return again->second;
    d = types_->createPointerType(pointee, 64);
    break;
  }
  case TyKind::Null: d = types_->createPointerType(nullptr, 64); break;
  case TyKind::Func: {
    // A code pointer to a subroutine of the value's signature, named as written.
    std::vector<llvm::Metadata *> sig = {t->isExtern ? type(t->funcRet()) : type(l_.types_->result(t->funcRet()))};
    for (const Ty *p : t->params) sig.push_back(type(p));
    llvm::DISubroutineType *fn = types_->createSubroutineType(types_->getOrCreateTypeArray(sig));
    d = types_->createPointerType(fn, 64, 0, std::nullopt, t->str());
    break;
  }
  case TyKind::Array: {
    llvm::DIType *element = type(t->element());
    llvm::Type *llt = l_.llvmType(t);
    const llvm::DataLayout &dl = l_.mod_->getDataLayout();
    llvm::Metadata *range[] = {types_->getOrCreateSubrange(0, static_cast<int64_t>(t->length))};
    d = types_->createArrayType(dl.getTypeAllocSizeInBits(llt), dl.getABITypeAlign(llt).value() * 8, element,
                                types_->getOrCreateArray(range));
    break;
  }
  case TyKind::Struct: return structType(t);
  case TyKind::Result: return resultType(t);
  case TyKind::Nil:
  case TyKind::Void:
  case TyKind::Error: d = nullptr; break;
  }
  typeCache_[t] = d;
  return d;
}

llvm::DICompositeType *DebugInfo::compositeType(const std::string &name, llvm::Type *llvmTy, llvm::DIFile *in,
                                                unsigned line) {
  const llvm::DataLayout &dl = l_.mod_->getDataLayout();
  return types_->createStructType(in, name, in, line, dl.getTypeAllocSizeInBits(llvmTy),
                                  dl.getABITypeAlign(llvmTy).value() * 8, llvm::DINode::FlagZero, nullptr,
                                  llvm::DINodeArray());
}

// Members at the offsets of the LLVM struct the lowering uses.
void DebugInfo::setMembers(llvm::DICompositeType *of, llvm::Type *llvmTy,
                           const std::vector<std::pair<std::string, const Ty *>> &fields, llvm::DIFile *in) {
  const llvm::DataLayout &dl = l_.mod_->getDataLayout();
  auto *st = llvm::cast<llvm::StructType>(llvmTy);
  const llvm::StructLayout *layout = dl.getStructLayout(st);
  std::vector<llvm::Metadata *> members;
  for (unsigned i = 0; i < fields.size(); ++i) {
    llvm::Type *ft = st->getElementType(i);
    members.push_back(types_->createMemberType(of, fields[i].first, in, 0, dl.getTypeStoreSizeInBits(ft),
                                               dl.getABITypeAlign(ft).value() * 8,
                                               layout->getElementOffsetInBits(i), llvm::DINode::FlagZero,
                                               type(fields[i].second)));
  }
  types_->replaceArrays(of, types_->getOrCreateArray(members));
}

llvm::DIType *DebugInfo::structType(const Ty *t) {
  const StructDecl &sd = *t->decl;
  llvm::DIFile *in = file(sd.nameSpan.file);
  llvm::Type *llvmTy = l_.llvmType(t);
  llvm::DICompositeType *s = compositeType(sd.name, llvmTy, in, lineOf(sd.nameSpan));
  typeCache_[t] = s; // before the fields: a field may point back to this struct
  std::vector<std::pair<std::string, const Ty *>> fields;
  for (const FieldDecl &f : sd.fields) fields.emplace_back(f.name, f.ty);
  setMembers(s, llvmTy, fields, in);
  return s;
}

// `Result<T>` is the struct the lowering returns: { is_error, error, value }
// under the names a program reads them by (`r.is_error`, `r.error`, `r.value`).
llvm::DIType *DebugInfo::resultType(const Ty *t) {
  const Ty *value = t->resultValue();
  llvm::Type *llvmTy = l_.resultType(value);
  llvm::DICompositeType *s = compositeType(t->str(), llvmTy, nullptr, 0);
  typeCache_[t] = s;
  std::vector<std::pair<std::string, const Ty *>> fields = {{"is_error", l_.types_->boolTy()},
                                                           {"error", l_.types_->int32()}};
  if (!value->isNil()) fields.emplace_back("value", value);
  setMembers(s, llvmTy, fields, nullptr);
  return s;
}

} // namespace npk
