#include "collectors/ProcCgroup.h"

#include "collectors/FileIo.h"
#include "collectors/TextParse.h"

namespace cgwarden::collectors {

const std::string* ProcCgroup::pathFor(std::string_view controller) const {
  for (const auto& e : entries) {
    if (controller.empty()) {
      if (e.hierarchyId == 0 && e.controllers.empty()) return &e.path;
      continue;
    }
    for (const auto& c : e.controllers) {
      if (c == controller) return &e.path;
    }
  }
  return nullptr;
}

Result<ProcCgroup> parseProcCgroup(std::string_view text) {
  ProcCgroup out;
  size_t lineNo = 0;
  for (std::string_view line : splitLines(text)) {
    ++lineNo;
    if (line.empty()) continue;
    // The path may itself contain ':', so split on the first two only.
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    auto id = c1 == std::string_view::npos ? std::nullopt : parseUint64(line.substr(0, c1));
    if (c2 == std::string_view::npos || !id || c2 + 1 >= line.size() || line[c2 + 1] != '/') {
      return Error::invalid("parse", "", "line " + std::to_string(lineNo) +
                                             ": expected \"id:controllers:/path\", got \"" + std::string(line) + "\"");
    }
    ProcCgroupEntry e;
    e.hierarchyId = static_cast<unsigned>(*id);
    for (std::string_view c : splitOn(line.substr(c1 + 1, c2 - c1 - 1), ',')) {
      if (!c.empty()) e.controllers.emplace_back(c);
    }
    e.path = std::string(line.substr(c2 + 1));
    out.entries.push_back(std::move(e));
  }
  return out;
}

Result<ProcCgroup> readProcCgroup(pid_t pid, const std::string& procRoot) {
  std::string path = procRoot + "/" + std::to_string(pid) + "/cgroup";
  auto text = readFile(path);
  if (!text) return text.error();
  auto parsed = parseProcCgroup(*text);
  if (!parsed) parsed.error().path = path;
  return parsed;
}

}  // namespace cgwarden::collectors
