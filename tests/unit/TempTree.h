#pragma once
// A real temporary directory tree for fixture tests, removed on destruction.
//   TempTree t;
//   t.write("memory/cgwarden/web/memory.limit_in_bytes", "9223372036854771712\n");

#include <filesystem>
#include <fstream>
#include <string>

#include <stdlib.h>

namespace cgwarden::testing {

class TempTree {
 public:
  TempTree() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cgwarden-unit-XXXXXX").string();
    root_ = ::mkdtemp(pattern.data());
  }
  ~TempTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  const std::string& root() const { return root_; }
  std::string path(const std::string& rel) const { return root_ + "/" + rel; }

  void mkdir(const std::string& rel) const { std::filesystem::create_directories(path(rel)); }
  // Creates parent directories as needed; `contents` may be empty (a file the code writes into).
  void write(const std::string& rel, const std::string& contents) const {
    std::filesystem::path p = path(rel);
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::trunc) << contents;
  }
  std::string read(const std::string& rel) const {
    std::ifstream in(path(rel));
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  bool exists(const std::string& rel) const { return std::filesystem::exists(path(rel)); }

 private:
  std::string root_;
};

}  // namespace cgwarden::testing
