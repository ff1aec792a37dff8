#include "collectors/CgroupDirs.h"

#include <algorithm>
#include <cstring>

namespace cgwarden::collectors {

CgroupDirs::Iterator::Iterator(const char* at, const char* end) : at_(at), end_(end) {
  if (at_ == end_) return;
  entry_.key = std::string_view(at_);
  entry_.dir = std::string_view(entry_.key.data() + entry_.key.size() + 1);
}

CgroupDirs::Iterator& CgroupDirs::Iterator::operator++() {
  *this = Iterator(entry_.dir.data() + entry_.dir.size() + 1, end_);
  return *this;
}

void CgroupDirs::set(std::string_view key, std::string_view dir) {
  if (dir.empty()) {
    erase(key);
    return;
  }
  // [from, to) of packed_ gives way to the new entry.
  size_t from = packed_.size();
  size_t to = from;
  for (Entry e : *this) {
    if (e.key < key) continue;
    from = static_cast<size_t>(e.key.data() - packed_.data());
    to = e.key == key ? static_cast<size_t>(e.dir.data() - packed_.data()) + e.dir.size() + 1 : from;
    break;
  }
  std::string next;
  next.reserve(packed_.size() - (to - from) + key.size() + dir.size() + 2);
  next.append(packed_, 0, from);
  next.append(key).push_back('\0');
  next.append(dir).push_back('\0');
  next.append(packed_, to);
  packed_ = std::move(next);
}

void CgroupDirs::erase(std::string_view key) {
  for (Entry e : *this) {
    if (e.key != key) continue;
    size_t from = static_cast<size_t>(e.key.data() - packed_.data());
    size_t to = static_cast<size_t>(e.dir.data() - packed_.data()) + e.dir.size() + 1;
    packed_.erase(from, to - from);
    return;
  }
}

std::string_view CgroupDirs::find(std::string_view key) const {
  for (Entry e : *this) {
    if (e.key == key) return e.dir;
  }
  return "";
}

size_t CgroupDirs::size() const { return static_cast<size_t>(std::count(packed_.begin(), packed_.end(), '\0')) / 2; }

}  // namespace cgwarden::collectors
