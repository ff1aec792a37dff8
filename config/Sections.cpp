#include "config/Sections.h"
#include "config/PolicySection.h"

namespace cgwarden::config {

const std::vector<Section>& configSections() {
  static const std::vector<Section> kSections = {
      {"agent", parseAgentSection, nullptr},
      {"workloads", parseWorkloadsSection, finishWorkloadsSection},
      {"policies", parsePoliciesSection, finishPoliciesSection},
      {"adopt", parseAdoptSection, finishAdoptSection},
  };
  return kSections;
}

}  // namespace cgwarden::config
