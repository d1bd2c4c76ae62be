// Semantic types. Types are interned in a TypeContext, so two types are equal
// exactly when their pointers are equal.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace npk {

struct StructDecl;

enum class TyKind : uint8_t { Error, Int, Bool, Float, String, Tbb32, Ptr, Struct, Result, Nil, Void, Null, Func, Array };

struct Ty {
  TyKind kind = TyKind::Error;
  unsigned bits = 0;             // Int, Float
  bool isSigned = false;         // Int
  const Ty *pointee = nullptr;   // Ptr (null: untyped `?->`); Result: the value type; Array: the element type
  uint64_t length = 0;           // Array: N of `T[N]` (1..2^31-1, LANGUAGE-2 A2)
  StructDecl *decl = nullptr;    // Struct
  // Func: `(R)(P...)` / `extern (R)(P...)` (LANGUAGE-2 A7); `pointee` is R.
  std::vector<const Ty *> params;
  std::vector<uint8_t> paramQuals; // the parameters' `wild`/`wildx`/`$$i`/`$$m` (ast Qual bits)
  bool isExtern = false;

  bool isError() const { return kind == TyKind::Error; }
  bool isInt() const { return kind == TyKind::Int; }
  bool isIntLike() const { return kind == TyKind::Int || kind == TyKind::Tbb32; }
  bool isFloat() const { return kind == TyKind::Float; }
  bool isNumeric() const { return isInt() || isFloat(); }
  bool isPtr() const { return kind == TyKind::Ptr; }
  bool isPointerLike() const { return kind == TyKind::Ptr || kind == TyKind::Null; }
  bool isResult() const { return kind == TyKind::Result; }
  bool isStruct() const { return kind == TyKind::Struct; }
  bool isFunc() const { return kind == TyKind::Func; }
  bool isArray() const { return kind == TyKind::Array; }
  const Ty *element() const { return pointee; } // Array
  const Ty *funcRet() const { return pointee; }
  bool isNil() const { return kind == TyKind::Nil || kind == TyKind::Void; }
  const Ty *resultValue() const { return pointee; }
  std::string str() const;
};

// The element type of the innermost array of `t` (`S` for `S[2][3]`), or
// `t` itself when it is no array.
inline const Ty *innermostElement(const Ty *t) {
  while (t->isArray()) t = t->element();
  return t;
}

// The runtime's signature tag of an `extern` function type, as
// npk_jit_sig_intern spells it (`i32(i32,i32)`, `void(ptr,f64)`), or "" when
// a part has no tag: only integers, flt32/flt64, pointers and a NIL return do.
std::string jitSignatureTag(const Ty *fn);

// The x86-64 System V size and alignment of a value of `t` (LANGUAGE-2 A6),
// as C lays out the same fields. False for a type without a stable layout
// (`string`, `Result<T>`, `NIL`, or a struct holding one); `why` then names
// it (`string`, or `field `name` of `S` is a `string``). A struct on a cycle
// of by-value fields (NPK-T018) has none either, with `why` empty.
bool typeLayout(const Ty *t, uint64_t &size, uint64_t &align, std::string &why);

// The bytes a value of `t` occupies, which a copy of it moves: its layout
// when it has one, else the sum of its parts (a `string` is its 16-byte
// {bytes, length}, a `Result` 8 bytes and its value). Saturates at
// UINT64_MAX; a struct on a by-value cycle (NPK-T018) stops the count.
uint64_t valueBytes(const Ty *t);
// "N bytes" for a size valueBytes or typeLayout gave, "2^64 bytes or more"
// for a saturated one.
std::string bytesText(uint64_t n);

class TypeContext {
public:
  TypeContext();
  const Ty *error() const { return error_; }
  const Ty *boolTy() const { return bool_; }
  const Ty *string() const { return string_; }
  const Ty *tbb32() const { return tbb32_; }
  const Ty *nil() const { return nil_; }
  const Ty *voidTy() const { return void_; }
  const Ty *null() const { return null_; }
  const Ty *intTy(unsigned bits, bool isSigned);
  const Ty *int32() { return intTy(32, true); }
  const Ty *int64() { return intTy(64, true); }
  const Ty *floatTy(unsigned bits);
  const Ty *ptr(const Ty *pointee); // null pointee: `?->`
  const Ty *result(const Ty *value);
  const Ty *array(const Ty *element, uint64_t length); // `T[N]`
  const Ty *structTy(StructDecl *decl);
  const Ty *func(const Ty *ret, std::vector<const Ty *> params, std::vector<uint8_t> quals, bool isExtern);
  // Looks up a builtin scalar type by name ("int32", "bool", ...); null if none.
  const Ty *builtinNamed(const std::string &name);

private:
  const Ty *intern(const Ty &t);
  std::deque<Ty> storage_;
  std::map<std::tuple<int, unsigned, bool, const Ty *, StructDecl *, uint64_t>, const Ty *> index_;
  std::map<std::tuple<const Ty *, std::vector<const Ty *>, std::vector<uint8_t>, bool>, const Ty *> funcIndex_;
  const Ty *error_, *bool_, *string_, *tbb32_, *nil_, *void_, *null_;
};

} // namespace npk
