#include "check/Types.h"

#include "ast/AST.h"

#include <algorithm>

namespace npk {

std::string Ty::str() const {
  switch (kind) {
  case TyKind::Error: return "<error>";
  case TyKind::Int: return std::string(isSigned ? "int" : "uint") + std::to_string(bits);
  case TyKind::Bool: return "bool";
  case TyKind::Float: return "flt" + std::to_string(bits);
  case TyKind::String: return "string";
  case TyKind::Tbb32: return "tbb32";
  case TyKind::Ptr: return (pointee ? pointee->str() : std::string("?")) + "->";
  case TyKind::Struct: return decl->name;
  case TyKind::Result: return "Result<" + pointee->str() + ">";
  case TyKind::Array: { // `int32[2][3]`: the outer dimension first
    const Ty *inner = this;
    std::string dims;
    for (; inner->isArray(); inner = inner->pointee) dims += "[" + std::to_string(inner->length) + "]";
    return inner->str() + dims;
  }
  case TyKind::Nil: return "NIL";
  case TyKind::Void: return "void";
  case TyKind::Null: return "NULL";
  case TyKind::Func: {
    std::string out = std::string(isExtern ? "extern " : "") + "(" + pointee->str() + ")(";
    for (size_t i = 0; i < params.size(); ++i) {
      if (i) out += ", ";
      out += qualifierText(paramQuals[i]) + params[i]->str();
    }
    return out + ")";
  }
  }
  return "<?>";
}

namespace {
// Sizes saturate: `int64[2147483647][2147483647]` is too large, not small.
uint64_t saturatingAdd(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
uint64_t saturatingMul(uint64_t a, uint64_t b) { return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b; }
uint64_t roundUp(uint64_t n, uint64_t align) { return n > UINT64_MAX - (align - 1) ? UINT64_MAX : (n + align - 1) / align * align; }

bool layoutOf(const Ty *t, uint64_t &size, uint64_t &align, std::string &why, std::vector<const StructDecl *> &open) {
  switch (t->kind) {
  case TyKind::Int:
  case TyKind::Float: size = align = t->bits / 8; return true;
  case TyKind::Bool: size = align = 1; return true;
  case TyKind::Tbb32: size = align = 4; return true;
  case TyKind::Ptr:
  case TyKind::Null:
  case TyKind::Func: size = align = 8; return true; // a function value is a code address
  case TyKind::Struct: {
    for (const StructDecl *d : open)
      if (d == t->decl) return false; // a cycle, reported as NPK-T018
    open.push_back(t->decl);
    uint64_t offset = 0, largest = 1;
    for (const FieldDecl &f : t->decl->fields) {
      uint64_t fs = 0, fa = 1;
      if (!f.ty || !layoutOf(f.ty, fs, fa, why, open)) {
        if (!why.empty() && why.find(" of `") == std::string::npos)
          why = "field `" + f.name + "` of `" + t->decl->name + "` is a `" + why + "`";
        return false;
      }
      offset = roundUp(offset, fa);
      offset = saturatingAdd(offset, fs);
      largest = std::max(largest, fa);
    }
    open.pop_back();
    size = roundUp(offset, largest);
    align = largest;
    return true;
  }
  case TyKind::Array: { // C's `T a[N]`: N elements, T's alignment
    if (!layoutOf(t->pointee, size, align, why, open)) return false;
    size = saturatingMul(size, t->length);
    return true;
  }
  case TyKind::String:
  case TyKind::Result:
  case TyKind::Nil:
  case TyKind::Void: why = t->str(); return false;
  case TyKind::Error: return false;
  }
  return false;
}
} // namespace

bool typeLayout(const Ty *t, uint64_t &size, uint64_t &align, std::string &why) {
  std::vector<const StructDecl *> open;
  return layoutOf(t, size, align, why, open);
}

namespace {

uint64_t bytesOf(const Ty *t, int depth) {
  uint64_t size = 0, align = 1;
  std::string why;
  if (depth > 64) return 0;
  if (typeLayout(t, size, align, why)) return size; // none for a string or a Result
  switch (t->kind) {
  case TyKind::String: return 16;
  case TyKind::Array: return saturatingMul(t->length, bytesOf(t->element(), depth + 1));
  case TyKind::Struct: {
    uint64_t n = 0;
    for (const FieldDecl &f : t->decl->fields)
      if (f.ty) n = saturatingAdd(n, bytesOf(f.ty, depth + 1));
    return n;
  }
  case TyKind::Result: return saturatingAdd(8, bytesOf(t->resultValue(), depth + 1));
  default: return 0;
  }
}
} // namespace

uint64_t valueBytes(const Ty *t) { return bytesOf(t, 0); }

std::string bytesText(uint64_t n) { return n == UINT64_MAX ? "2^64 bytes or more" : std::to_string(n) + " bytes"; }

std::string jitSignatureTag(const Ty *fn) {
  auto part = [](const Ty *t, bool isReturn) -> std::string {
    if (t->isInt()) return (t->isSigned ? "i" : "u") + std::to_string(t->bits);
    if (t->isFloat()) return "f" + std::to_string(t->bits);
    if (t->isPtr()) return "ptr";
    if (isReturn && t->isNil()) return "void";
    return "";
  };
  std::string tag = part(fn->funcRet(), true);
  if (tag.empty()) return "";
  tag += "(";
  for (size_t i = 0; i < fn->params.size(); ++i) {
    std::string p = part(fn->params[i], false);
    if (p.empty() || fn->paramQuals[i] != 0) return "";
    tag += (i ? "," : "") + p;
  }
  return tag + ")";
}

TypeContext::TypeContext() {
  auto make = [&](TyKind k) {
    Ty t;
    t.kind = k;
    return intern(t);
  };
  error_ = make(TyKind::Error);
  bool_ = make(TyKind::Bool);
  string_ = make(TyKind::String);
  tbb32_ = make(TyKind::Tbb32);
  nil_ = make(TyKind::Nil);
  void_ = make(TyKind::Void);
  null_ = make(TyKind::Null);
}

const Ty *TypeContext::intern(const Ty &t) {
  auto key = std::make_tuple(static_cast<int>(t.kind), t.bits, t.isSigned, t.pointee, t.decl, t.length);
  auto it = index_.find(key);
  if (it != index_.end()) return it->second;
  storage_.push_back(t);
  index_[key] = &storage_.back();
  return &storage_.back();
}

const Ty *TypeContext::intTy(unsigned bits, bool isSigned) {
  Ty t;
  t.kind = TyKind::Int;
  t.bits = bits;
  t.isSigned = isSigned;
  return intern(t);
}

const Ty *TypeContext::floatTy(unsigned bits) {
  Ty t;
  t.kind = TyKind::Float;
  t.bits = bits;
  return intern(t);
}

const Ty *TypeContext::ptr(const Ty *pointee) {
  Ty t;
  t.kind = TyKind::Ptr;
  t.pointee = pointee;
  return intern(t);
}

const Ty *TypeContext::result(const Ty *value) {
  Ty t;
  t.kind = TyKind::Result;
  t.pointee = value;
  return intern(t);
}

const Ty *TypeContext::array(const Ty *element, uint64_t length) {
  Ty t;
  t.kind = TyKind::Array;
  t.pointee = element;
  t.length = length;
  return intern(t);
}

const Ty *TypeContext::structTy(StructDecl *decl) {
  Ty t;
  t.kind = TyKind::Struct;
  t.decl = decl;
  return intern(t);
}

const Ty *TypeContext::func(const Ty *ret, std::vector<const Ty *> params, std::vector<uint8_t> quals,
                            bool isExtern) {
  auto key = std::make_tuple(ret, params, quals, isExtern);
  auto it = funcIndex_.find(key);
  if (it != funcIndex_.end()) return it->second;
  Ty t;
  t.kind = TyKind::Func;
  t.pointee = ret;
  t.params = std::move(params);
  t.paramQuals = std::move(quals);
  t.isExtern = isExtern;
  storage_.push_back(std::move(t));
  funcIndex_[key] = &storage_.back();
  return &storage_.back();
}

const Ty *TypeContext::builtinNamed(const std::string &name) {
  static const std::pair<const char *, std::pair<unsigned, bool>> kInts[] = {
      {"int8", {8, true}},   {"int16", {16, true}},   {"int32", {32, true}},   {"int64", {64, true}},
      {"uint8", {8, false}}, {"uint16", {16, false}}, {"uint32", {32, false}}, {"uint64", {64, false}}};
  for (auto &[n, info] : kInts)
    if (name == n) return intTy(info.first, info.second);
  if (name == "bool") return bool_;
  if (name == "flt32") return floatTy(32);
  if (name == "flt64") return floatTy(64);
  if (name == "string") return string_;
  if (name == "tbb32") return tbb32_;
  if (name == "NIL") return nil_;
  if (name == "void") return void_;
  return nullptr;
}

} // namespace npk
