#include "agent/AdoptMatcher.h"

#include <fnmatch.h>

namespace cgwarden::agent {

namespace {

bool hasGlobChars(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

std::string ruleWhere(const config::AdoptRule& rule) {
  const auto& loc = rule.location;
  if (loc.file.empty()) return "";
  std::string out = loc.file;
  if (loc.line > 0) out += ":" + std::to_string(loc.line);
  if (loc.column > 0) out += ":" + std::to_string(loc.column);
  return out;
}

Error ruleError(const config::AdoptRule& rule, std::string detail) {
  return Error::invalid("adopt rule \"" + rule.name + "\"", ruleWhere(rule), std::move(detail));
}

// Checks the %-escapes of a template; reports whether it holds a per-match one.
Result<bool> checkTemplate(const config::AdoptRule& rule) {
  const std::string& t = rule.workload;
  bool perMatch = false;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '%') continue;
    if (i + 1 >= t.size()) return ruleError(rule, "workload \"" + t + "\" ends with a lone '%'");
    char c = t[++i];
    if (c == 'u' || c == 'p' || c == 'c') perMatch = true;
    else if (c != '%') {
      return ruleError(rule, "workload \"" + t + "\": unknown escape %" + std::string(1, c) +
                                 " (use %u user, %p pid, %c comm, %% for '%')");
    }
  }
  return perMatch;
}

bool validFixedName(std::string_view n) {
  if (n.empty()) return false;
  auto lowerAlnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lowerAlnum(n.front())) return false;
  for (char c : n) {
    if (!lowerAlnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return n.size() <= 100;
}

std::string_view withoutDeletedSuffix(std::string_view exe) {
  constexpr std::string_view kDeleted = " (deleted)";
  if (exe.size() > kDeleted.size() && exe.substr(exe.size() - kDeleted.size()) == kDeleted) {
    exe.remove_suffix(kDeleted.size());
  }
  return exe;
}

}  // namespace

bool globOrExactMatch(std::string_view pattern, std::string_view text) {
  if (!hasGlobChars(pattern)) return pattern == text;
  return ::fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), 0) == 0;
}

Result<AdoptMatcher> AdoptMatcher::compile(config::AdoptRule rule) {
  if (!validFixedName(rule.name)) {
    return ruleError(rule, "rule name \"" + rule.name + "\" must match [a-z0-9][a-z0-9_.-]*");
  }
  bool any = rule.exe || rule.comm || rule.cmdline || rule.uid || rule.gid || rule.parent;
  if (!any) return ruleError(rule, "has no matcher (set at least one of exe, comm, cmdline, user, group, parent)");
  if (rule.exe && rule.exe->empty()) return ruleError(rule, "exe is empty");
  if (rule.comm && rule.comm->empty()) return ruleError(rule, "comm is empty");
  if (rule.comm && !hasGlobChars(*rule.comm) && rule.comm->size() > 15) {
    return ruleError(rule, "comm \"" + *rule.comm + "\" is longer than 15 characters: the kernel truncates comm, so it can never match (use exe, or a glob)");
  }
  if (rule.parent && !rule.parent->pid && !rule.parent->comm && !rule.parent->workload) {
    return ruleError(rule, "parent has none of pid, comm, workload");
  }
  if (rule.workload.empty()) return ruleError(rule, "has no target workload");
  auto perMatch = checkTemplate(rule);
  if (!perMatch) return perMatch.error();
  if (!*perMatch) {
    std::string fixed = expandWorkloadTemplate(rule.workload, "", 0, "");
    if (!validFixedName(fixed)) {
      return ruleError(rule, "workload \"" + rule.workload + "\" is not a valid name ([a-z0-9][a-z0-9_.-]*, at most 100 characters)");
    }
  }

  AdoptMatcher m(std::move(rule));
  m.perMatch_ = *perMatch;
  if (m.rule_.cmdline) {
    try {
      m.cmdline_.emplace(*m.rule_.cmdline, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
      return ruleError(m.rule_, "cmdline \"" + *m.rule_.cmdline + "\" is not a valid regex: " + e.what());
    }
  }
  return m;
}

bool AdoptMatcher::matches(const collectors::ProcessInfo& p, const ParentFacts& parent) const {
  const auto& r = rule_;
  if (r.uid && p.euid != *r.uid) return false;
  if (r.gid && p.egid != *r.gid) return false;
  if (r.comm && !globOrExactMatch(*r.comm, p.comm)) return false;
  if (r.exe) {
    if (p.exe.empty()) return false;
    if (::fnmatch(r.exe->c_str(), std::string(withoutDeletedSuffix(p.exe)).c_str(), 0) != 0) return false;
  }
  if (r.parent) {
    if (r.parent->pid && parent.pid != *r.parent->pid) return false;
    if (r.parent->comm && (parent.comm.empty() || !globOrExactMatch(*r.parent->comm, parent.comm))) return false;
    if (r.parent->workload && parent.workload != *r.parent->workload) return false;
  }
  if (cmdline_) {
    if (p.cmdline.empty()) return false;
    try {
      if (!std::regex_search(p.commandLine(), *cmdline_)) return false;
    } catch (const std::regex_error&) {
      return false;  // error_complexity / error_stack on a pathological command line
    }
  }
  return true;
}

unsigned AdoptMatcher::neededFields() const {
  unsigned f = collectors::kInfoBasic;
  if (rule_.exe) f |= collectors::kInfoExe;
  if (rule_.cmdline) f |= collectors::kInfoCmdline;
  return f;
}

std::string AdoptMatcher::workloadName(const collectors::ProcessInfo& p, std::string_view userName) const {
  if (!perMatch_) return expandWorkloadTemplate(rule_.workload, "", 0, "");
  std::string user = userName.empty() ? std::to_string(p.euid) : std::string(userName);
  return sanitizeWorkloadName(expandWorkloadTemplate(rule_.workload, user, p.pid, p.comm));
}

std::string expandWorkloadTemplate(std::string_view tmpl, std::string_view user, pid_t pid, std::string_view comm) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    char c = tmpl[i];
    if (c != '%' || i + 1 >= tmpl.size()) {
      out += c;
      continue;
    }
    char e = tmpl[++i];
    switch (e) {
      case 'u': out += user; break;
      case 'p': out += std::to_string(pid); break;
      case 'c': out += comm; break;
      case '%': out += '%'; break;
      default:
        out += '%';
        out += e;
    }
  }
  return out;
}

std::string sanitizeWorkloadName(std::string_view raw) {
  std::string out;
  for (char c : raw) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) c = '-';
    if (c == '-' && !out.empty() && out.back() == '-') continue;
    if (out.empty() && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) continue;
    out += c;
    if (out.size() == 100) break;
  }
  if (out.empty()) return "adopted";
  return out;
}

}  // namespace cgwarden::agent
