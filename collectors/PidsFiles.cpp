#include "collectors/PidsFiles.h"

#include <string>

namespace cgwarden::collectors {

namespace {

Error badPidLine(int number) {
  return Error::invalid("parse", "", "line " + std::to_string(number) + ": expected a pid");
}

}  // namespace

Status ProcsCounter::feed(std::string_view chunk) {
  for (char c : chunk) {
    if (c == '\n') {
      if (inLine) {
        ++lineNumber;
        if (!lineOk) return badPidLine(lineNumber);
        ++count;
      }
      inLine = false;
      lineOk = true;
      continue;
    }
    if (!inLine) inLine = true;
    if (c < '0' || c > '9') lineOk = false;
  }
  return {};
}

Status ProcsCounter::finish() {
  if (inLine) {
    ++lineNumber;
    if (!lineOk) return badPidLine(lineNumber);
    ++count;
    inLine = false;
  }
  return {};
}

Result<uint64_t> countProcs(std::string_view text) {
  ProcsCounter counter;
  if (auto st = counter.feed(text); !st) return st.error();
  if (auto st = counter.finish(); !st) return st.error();
  return counter.count;
}

}  // namespace cgwarden::collectors
