#pragma once
#include <string>

namespace cgwarden::config {

// Where a value came from, for messages: "cgwarden.yaml:12:7".
struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown (API requests, CLI flags)
  int column = 0;  // 1-based
};

}  // namespace cgwarden::config
