#pragma once
// The IR of one `adopt:` rule: which running processes cgwarden takes over, and into
// which workload. Produced by the YAML loader (section `adopt:`), consumed by
// agent::Adopter through agent::AdoptMatcher (which compiles the regex and checks it).
//
//   adopt:
//     - name: batch-python              # rule id: label of cgwarden_adoptions_total{rule}
//       exe: "/usr/bin/python3*"        # fnmatch glob on the resolved /proc/<pid>/exe
//       comm: "worker-*"                # exact, or a glob when it holds * ? or [
//       cmdline: "--queue=(low|bulk)"   # ECMAScript regex, searched in the arguments joined by ' '
//       user: batch                     # effective uid (name or number), as cgrulesengd matches
//       group: batch                    # effective gid
//       parent: { comm: "cron" }        # or { pid: 812 } or { workload: builder }
//       workload: "py-%u"               # fixed name, or a template: %u user, %p pid, %c comm, %% '%'
//       limits: { memory: { max: 1Gi } }
//
// Every matcher that is set must match (AND); a rule with no matcher is rejected.
// Rules are tried in order; the first match wins.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "collectors/Limits.h"
#include "config/SourceLocation.h"

namespace cgwarden::config {

struct AdoptParentMatch {
  std::optional<pid_t> pid;          // the parent's pid (tgid)
  std::optional<std::string> comm;   // exact or glob, like AdoptRule::comm
  std::optional<std::string> workload;  // the parent lives in this managed workload's cgroup
};

struct AdoptRule {
  std::string name;                  // unique among rules, [a-z0-9][a-z0-9_.-]*

  std::optional<std::string> exe;    // fnmatch(3) glob, flags 0 ('*' also crosses '/')
  std::optional<std::string> comm;   // exact unless it holds * ? [ (then fnmatch)
  std::optional<std::string> cmdline;  // std::regex ECMAScript, regex_search semantics
  std::optional<uint32_t> uid;       // effective uid, resolved from `user`
  std::string user;                  // as written, for display
  std::optional<uint32_t> gid;       // effective gid, resolved from `group`
  std::string group;
  std::optional<AdoptParentMatch> parent;

  // Target workload: a name, or a template with %u (user name, else the uid), %p (pid),
  // %c (comm), %% (a '%'). Expanded names are sanitised to [a-z0-9][a-z0-9_.-]*.
  // A fixed name is one shared workload, created on the first match and removed when empty.
  // Default: the rule's name.
  std::string workload;
  Limits limits;                     // applied when the rule creates the workload's cgroup

  SourceLocation location;           // of the rule's entry, for messages
};

}  // namespace cgwarden::config
