#pragma once
#include "agent/Cgroup.h"

namespace cgwarden::agent {
// v1 and hybrid hosts. Use CgroupManager::create, which picks the backend.
std::unique_ptr<CgroupManager> makeV1Manager(const CgroupLayout& layout, std::string root);
// Pure v2 hosts.
std::unique_ptr<CgroupManager> makeV2Manager(const CgroupLayout& layout, std::string root);
}  // namespace cgwarden::agent
