// The layer guard: no library file includes a header of a layer above its own, and every project
// header is included as "taesan/LAYER/FILE.h". The allowed sets below are the layering of
// docs/architecture.md; examples/, tests/ and bench/ may include anything and are not walked.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "common/test_util.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

/// Each layer (a source folder; ops/kernels is its own layer inside ops/) and the layers its
/// files may include, itself included. "taesan.h" is the umbrella header at the root: every
/// layer but the application. Nothing in the library may include the umbrella.
const std::map<std::string, std::set<std::string>>& allowed() {
  static const std::map<std::string, std::set<std::string>> table = [] {
    std::map<std::string, std::set<std::string>> t;
    t["core"] = {"core"};
    t["ops/kernels"] = {"core", "ops/kernels"};
    t["autograd"] = {"core", "autograd"};
    t["ops"] = {"core", "autograd", "ops/kernels", "ops"};
    t["nn"] = t["ops"];
    t["nn"].insert("nn");
    // optim and dist are peers: both use nn and below, neither includes the other.
    t["optim"] = t["nn"];
    t["optim"].insert("optim");
    t["dist"] = t["nn"];
    t["dist"].insert("dist");
    t["data"] = t["nn"];
    t["data"].insert({"optim", "dist", "data"});
    t["models"] = t["data"];
    t["models"].insert("models");
    t["train"] = t["models"];
    t["train"].insert("train");
    t["app"] = t["train"];
    t["app"].insert("app");
    t["taesan.h"] = t["train"];
    return t;
  }();
  return table;
}

/// The layer a path relative to the source root (or to include/taesan) belongs to; "" if none.
std::string layer_of(const std::string& relative) {
  if (relative == "taesan.h") return "taesan.h";
  if (relative.rfind("ops/kernels/", 0) == 0) return "ops/kernels";
  const size_t slash = relative.find('/');
  if (slash == std::string::npos) return "";
  const std::string first = relative.substr(0, slash);
  return allowed().count(first) ? first : "";
}

std::string rule_text(const std::string& layer) {
  std::string text = layer + (layer == "taesan.h" ? "" : "/") + " may include only";
  for (const auto& l : allowed().at(layer)) text += " " + l + (l == "taesan.h" ? "" : "/");
  return text;
}

/// Every offending include under `root` as "file:line: #include ...: rule". `files` counts the
/// files read and `includes` the project includes checked (so the guard cannot pass vacuously).
std::vector<std::string> check_tree(const fs::path& root, int& files, int& includes) {
  static const std::regex project_include(
      R"(^\s*#\s*(?:include|define\s+HWY_TARGET_INCLUDE)\s*[<"]taesan/([^">]+)[">])");
  static const std::regex quoted_include(R"re(^\s*#\s*include\s*"([^"]+)")re");
  std::vector<std::string> found;
  std::vector<fs::path> sources;
  if (fs::exists(root / "taesan.h")) sources.push_back(root / "taesan.h");
  for (const auto& [layer, _] : allowed()) {
    if (layer == "taesan.h" || layer == "ops/kernels" || !fs::is_directory(root / layer)) continue;
    for (const auto& e : fs::recursive_directory_iterator(root / layer)) {
      const std::string ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".h" || ext == ".cc")) sources.push_back(e.path());
    }
  }
  for (const fs::path& file : sources) {
    ++files;
    const std::string relative = fs::relative(file, root).generic_string();
    const std::string layer = layer_of(relative);
    std::ifstream in(file);
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      const std::string where = relative + ":" + std::to_string(number) + ": " + line + "\n    ";
      std::smatch m;
      if (std::regex_search(line, m, project_include)) {
        ++includes;
        const std::string target = layer_of(m[1].str());
        if (target.empty()) {
          found.push_back(where + "taesan/" + m[1].str() + " is in no layer");
        } else if (!allowed().at(layer).count(target)) {
          found.push_back(where + "includes a header of " + target + ": " + rule_text(layer));
        }
      } else if (std::regex_search(line, m, quoted_include)) {
        // A project header included another way ("error.h", "../core/error.h", "core/error.h")
        // works in one tree and breaks in another: every one is "taesan/LAYER/FILE.h".
        const fs::path name = m[1].str();
        if (fs::exists(file.parent_path() / name) || fs::exists(root / name))
          found.push_back(where + "includes a project header without the taesan/ prefix " +
                          "(write \"taesan/LAYER/FILE.h\")");
      }
    }
  }
  return found;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  return text;
}

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

}  // namespace

TEST_CASE("no library file includes a header of a higher layer", "[core][layers]") {
  const fs::path root = fs::path(TS_TEST_DIR).parent_path();
  int files = 0, includes = 0;
  const std::vector<std::string> found = check_tree(root, files, includes);
  INFO("source root " << root.string() << ": " << files << " files, " << includes
                      << " taesan includes checked");
  CHECK(files > 100);
  CHECK(includes > 300);
  if (!found.empty()) {
    // Printed unwrapped (Catch wraps its messages at 80 columns): one "file:line: include" each.
    std::cout << found.size() << " include(s) break the layering (docs/architecture.md):\n"
              << joined(found);
    FAIL(found.size() << " include(s) break the layering: listed above, with the rule each breaks");
  }
}

TEST_CASE("the layer guard reports a higher-layer include with its file, line and rule",
          "[core][layers]") {
  taesan::test::ScratchDir dir;
  write(dir.path() / "core" / "ok.h",
        "#pragma once\n#include <vector>\n#include \"taesan/core/x.h\"\n");
  write(dir.path() / "core" / "bad.cc",
        "// a core file\n#include \"hwy/highway.h\"\n#include <taesan/nn/module.h>\n");
  write(dir.path() / "ops" / "kernels" / "k.cc",
        "#define HWY_TARGET_INCLUDE \"taesan/autograd/tensor.h\"\n");
  write(dir.path() / "dist" / "d.h",
        "#include \"taesan/optim/adam.h\"\n#include \"../core/ok.h\"\n");
  write(dir.path() / "app" / "a.cc", "#include \"taesan/taesan.h\"\n#include \"taesan/app/a.h\"\n");
  int files = 0, includes = 0;
  const std::string report = joined(check_tree(dir.path(), files, includes));
  CHECK(files == 5);
  CHECK(includes == 6);
  CHECK_THAT(report, Contains("core/bad.cc:3: #include <taesan/nn/module.h>") &&
                         Contains("includes a header of nn: core/ may include only core/"));
  CHECK_THAT(report, Contains("ops/kernels/k.cc:1:") &&
                         Contains("ops/kernels/ may include only core/ ops/kernels/"));
  CHECK_THAT(report, Contains("dist/d.h:1:") && Contains("includes a header of optim"));
  CHECK_THAT(report, Contains("dist/d.h:2:") && Contains("without the taesan/ prefix"));
  CHECK_THAT(report, Contains("app/a.cc:1:") && Contains("includes a header of taesan.h"));
  CHECK_THAT(report, !Contains("ok.h:") && !Contains("app/a.cc:2"));
}
