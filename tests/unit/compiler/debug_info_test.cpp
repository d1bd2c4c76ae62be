// `-g`: the lowering's debug info passes LLVM's verifier (debug info checks
// included) before and after the -O2 pipeline, every instruction lowered from
// a NIR instruction has a line in its own function, and without `-g` there is
// no debug info at all.
#include "own_test_support.h"

#include "driver/Emit.h"
#include "lower/Lower.h"

#include <llvm/IR/DebugInfo.h>
#include <llvm/IR/DebugInfoMetadata.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/InstIterator.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Object/ObjectFile.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/raw_ostream.h>

#include <algorithm>

namespace npk {
namespace {

using testing::Checked;

constexpr const char *kProgram = R"(struct:Point = { int32:x; int32:y; };
struct:Node = { int32:v; Node->:next; };
Type:Geo = {
    func:area = int64(Point:p, int32:scale) {
        int64:a = (p.x * p.y) => int64;
        pass a * (scale => int64);
    };
};
func:total = int32(Node->:head) {
    int32:sum = 0;
    Node->:n = head;
    while (n != NULL) { sum = sum + n.v; n = n.next; }
    pass sum;
};
func:steps = int32(int32:limit) {
    int32:k = 0;
    defer { k = 0; }
    for (int32:i = 0; i < limit; i += 1) {
        if (i == 3) { continue; } else if (i == 7) { break; } else { k += 1; }
    }
    for (;;) { break; }
    pass k;
};
func:main = int32() {
    int32:s = raw steps(10);
    Point:corner = Point{ x: 6, y: 7 };
    string:label = "corner";
    Node:b = Node{ v: 2, next: NULL };
    Node:a = Node{ v: 1, next: @b };
    int64:area = raw Geo.area(corner, 2);
    Result<int32>:t = total(@a);
    println(`&{label} &{area}`);
    exit 0;
};
)";

struct Lowered {
  Checked checked{kProgram};
  llvm::LLVMContext ctx;
  std::unique_ptr<llvm::Module> mod;

  explicit Lowered(bool debugInfo) {
    EXPECT_TRUE(checked.clean());
    nir::Module nir = nir::build(checked.checker->symbols().allFuncs);
    checkOwnership(checked.sm, checked.checker->symbols(), checked.diags, nir);
    auto target = std::make_unique<llvm::Module>("test", ctx);
    configureTarget(*target);
    mod = lowerProgram(std::move(target), checked.sm, checked.program, checked.checker->symbols(), NirFuncs::of(nir),
                       checked.types, LowerOptions{debugInfo, false});
  }
};

// The verifier's verdict: "" when the module and its debug info are valid.
std::string verify(const llvm::Module &m) {
  std::string errors;
  llvm::raw_string_ostream out(errors);
  bool brokenDebugInfo = false;
  bool broken = llvm::verifyModule(m, &out, &brokenDebugInfo);
  if (brokenDebugInfo) out << "(broken debug info)";
  if (!broken && !brokenDebugInfo) return {};
  return errors.empty() ? "invalid" : errors;
}

size_t countVariables(const llvm::Module &m) {
  size_t n = 0;
  for (const llvm::Function &f : m)
    for (const llvm::Instruction &i : llvm::instructions(f))
      for (const llvm::DbgVariableRecord &r : llvm::filterDbgVars(i.getDbgRecordRange())) n += r.getVariable() != nullptr;
  return n;
}

TEST(DebugInfo, VerifiesWithDebugInfoChecks) {
  Lowered l(true);
  EXPECT_EQ(verify(*l.mod), "");
  EXPECT_EQ(llvm::getDebugMetadataVersionFromModule(*l.mod), llvm::DEBUG_METADATA_VERSION);
}

TEST(DebugInfo, EveryFunctionHasItsSubprogramAndEveryLoweredInstructionALine) {
  Lowered l(true);
  std::vector<std::string> names;
  for (llvm::Function &f : *l.mod) {
    if (f.isDeclaration()) continue;
    llvm::DISubprogram *sp = f.getSubprogram();
    ASSERT_NE(sp, nullptr) << f.getName().str();
    names.push_back(sp->getName().str());
    for (llvm::BasicBlock &bb : f) {
      if (&bb == &f.getEntryBlock()) continue; // the allocas: a frame, not a statement
      for (llvm::Instruction &i : bb) {
        // A parameter's store into its slot is the prologue (no location).
        if (auto *st = llvm::dyn_cast<llvm::StoreInst>(&i); st && llvm::isa<llvm::Argument>(st->getValueOperand()))
          continue;
        const llvm::DebugLoc &loc = i.getDebugLoc();
        ASSERT_TRUE(loc) << f.getName().str() << ": " << std::string(i.getOpcodeName());
        EXPECT_GT(loc.getLine(), 0u) << f.getName().str() << ": " << std::string(i.getOpcodeName());
        EXPECT_EQ(loc->getScope()->getSubprogram(), sp);
      }
    }
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"Geo.area", "main", "main", "steps", "total"}));
  // p, scale, a; head, sum, n; limit, k, i; s, corner, label, b, a, area, t
  EXPECT_EQ(countVariables(*l.mod), 16u);
}

TEST(DebugInfo, SurvivesTheO2Pipeline) {
  Lowered l(true);
  ASSERT_EQ(optimizeModule(*l.mod, 2), "");
  EXPECT_EQ(verify(*l.mod), "");
  bool located = false;
  for (llvm::Function &f : *l.mod)
    for (llvm::Instruction &i : llvm::instructions(f)) located |= i.getDebugLoc() && i.getDebugLoc().getLine() > 0;
  EXPECT_TRUE(located);
  EXPECT_GT(countVariables(*l.mod), 0u);
}

// Code generation releases each function's IR once its code is written: the
// module that remains is valid IR, debug info included, every definition is
// still a definition with its linkage and subprogram, and its body is one
// `unreachable`. The object file it wrote holds every function.
TEST(DebugInfo, EmittedBodiesAreReleasedAndTheModuleStaysValid) {
  Lowered l(true);
  std::vector<std::pair<std::string, llvm::GlobalValue::LinkageTypes>> before;
  for (llvm::Function &f : *l.mod)
    if (!f.isDeclaration()) before.emplace_back(f.getName().str(), f.getLinkage());
  ASSERT_GE(before.size(), 5u);
  llvm::SmallString<128> obj;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("npk-release", "o", obj));
  bool writeFailed = false;
  ASSERT_EQ(emitMachineCode(*l.mod, std::string(obj), false, 0, writeFailed), "");
  EXPECT_EQ(verify(*l.mod), "");
  for (auto &[name, linkage] : before) {
    llvm::Function *f = l.mod->getFunction(name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_FALSE(f->isDeclaration()) << name;
    EXPECT_EQ(f->getLinkage(), linkage) << name;
    EXPECT_NE(f->getSubprogram(), nullptr) << name;
    ASSERT_EQ(f->size(), 1u) << name;
    EXPECT_EQ(f->front().size(), 1u) << name;
    EXPECT_TRUE(llvm::isa<llvm::UnreachableInst>(f->front().front())) << name;
  }
  auto file = llvm::object::ObjectFile::createObjectFile(obj.str());
  ASSERT_TRUE(bool(file));
  std::vector<std::string> defined;
  for (const llvm::object::SymbolRef &sym : file->getBinary()->symbols()) {
    auto type = sym.getType();
    auto name = sym.getName();
    if (type && name && *type == llvm::object::SymbolRef::ST_Function) defined.push_back(name->str());
  }
  llvm::sys::fs::remove(obj);
  for (auto &[name, linkage] : before)
    EXPECT_NE(std::find(defined.begin(), defined.end(), name), defined.end()) << name;
}

TEST(DebugInfo, NoneWithoutG) {
  Lowered l(false);
  EXPECT_EQ(verify(*l.mod), "");
  EXPECT_EQ(llvm::getDebugMetadataVersionFromModule(*l.mod), 0u);
  EXPECT_EQ(l.mod->debug_compile_units_begin(), l.mod->debug_compile_units_end());
  for (llvm::Function &f : *l.mod) {
    EXPECT_EQ(f.getSubprogram(), nullptr);
    for (llvm::Instruction &i : llvm::instructions(f)) EXPECT_FALSE(i.getDebugLoc());
  }
  EXPECT_EQ(countVariables(*l.mod), 0u);
}

} // namespace
} // namespace npk
