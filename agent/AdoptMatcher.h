#pragma once
// One compiled `adopt:` rule (config/AdoptRule.h): the pure decision "does this process
// match" over a ProcessInfo, and the workload name a match goes to. No I/O here: the
// Adopter reads /proc and gathers the parent facts, then asks the matcher.
//
//   auto m = AdoptMatcher::compile(rule);          // checks regex, template, "some matcher set"
//   if (m->matches(info, parentFacts)) name = m->workloadName(info, "alice");

#include <sys/types.h>

#include <optional>
#include <regex>
#include <string>
#include <string_view>

#include "collectors/ProcessInfo.h"
#include "collectors/Result.h"
#include "config/AdoptRule.h"

namespace cgwarden::agent {

// What the caller knows about the matched process's parent (only needed when the rule
// has a `parent:` matcher; see AdoptMatcher::needsParent()).
struct ParentFacts {
  pid_t pid = 0;
  std::string comm;      // "" when unknown (parent gone)
  std::string workload;  // the managed workload whose cgroup holds the parent; "" when none
};

class AdoptMatcher {
 public:
  // Fails (Error::invalid naming "adopt rule <name>" and the rule's file:line) on: a rule
  // with no matcher, a bad regex, an empty glob, a template with an unknown %-escape, a
  // fixed workload name that is not [a-z0-9][a-z0-9_.-]*.
  static Result<AdoptMatcher> compile(config::AdoptRule rule);

  const config::AdoptRule& rule() const { return rule_; }
  const std::string& name() const { return rule_.name; }

  // True when every matcher set in the rule matches. exe is compared without the
  // kernel's " (deleted)" suffix; uid/gid are the effective ids.
  bool matches(const collectors::ProcessInfo& process, const ParentFacts& parent) const;

  // collectors::ProcessInfoFields the matcher needs read (exe, cmdline).
  unsigned neededFields() const;
  bool needsParent() const { return rule_.parent.has_value(); }
  bool needsParentWorkload() const { return rule_.parent && rule_.parent->workload; }

  // True when the target name holds %u, %p or %c (one workload per match).
  bool perMatch() const { return perMatch_; }
  // The target workload for this process: the fixed name, or the expanded, sanitised
  // template. `userName` is the effective user's name ("" when unknown: the uid is used).
  std::string workloadName(const collectors::ProcessInfo& process, std::string_view userName) const;

 private:
  explicit AdoptMatcher(config::AdoptRule rule) : rule_(std::move(rule)) {}

  config::AdoptRule rule_;
  std::optional<std::regex> cmdline_;
  bool perMatch_ = false;
};

// Expands %u %p %c %% in `tmpl`; an unknown escape is kept literally (compile rejects it).
std::string expandWorkloadTemplate(std::string_view tmpl, std::string_view user, pid_t pid, std::string_view comm);

// Makes any text a valid workload name: lower-cases, turns every character outside
// [a-z0-9_.-] into '-', squeezes repeated '-', drops leading characters that are not
// [a-z0-9], cuts at 100 characters; "" becomes "adopted".
//   "Alice/Build Job" -> "alice-build-job"      "..x" -> "x"
std::string sanitizeWorkloadName(std::string_view raw);

// Whether `pattern` matches `text`: exact when the pattern has no * ? [, else fnmatch(3).
bool globOrExactMatch(std::string_view pattern, std::string_view text);

}  // namespace cgwarden::agent
