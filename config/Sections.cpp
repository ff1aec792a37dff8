#include "config/Sections.h"

namespace cgwarden::config {

const std::vector<Section>& configSections() {
  static const std::vector<Section> kSections = {
      {"agent", parseAgentSection, nullptr},
      {"workloads", parseWorkloadsSection, finishWorkloadsSection},
  };
  return kSections;
}

}  // namespace cgwarden::config
