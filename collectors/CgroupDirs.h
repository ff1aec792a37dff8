#pragma once
// A cgroup's directory per hierarchy, as SampleTarget and ActionSubject carry it.
//
// Keys are CgroupLayout's: a v1 controller ("cpu", "cpuacct", "cpuset", "memory", "pids",
// "blkio"), "io" on v2, and "" for the cgroup2 directory (v2: every controller; hybrid: the
// PSI twin). Directories are absolute paths:
//   "memory" -> "/sys/fs/cgroup/memory/cgwarden/web"
//   ""       -> "/sys/fs/cgroup/unified/cgwarden/web"
// Neither a key nor a directory holds a NUL byte, and no directory is empty: find() answers
// "none" with an empty view.
//
// Every string_view handed out (find, iteration) is NUL-terminated, so `view.data()` can be
// passed to open(2), and stays valid until this CgroupDirs is modified (set, erase,
// assignment) or destroyed.
//
// Memory: at 10,000 observed cgroups each holds one, so all entries live in one allocation,
// packed "key\0dir\0key\0dir\0..." in key order, and a lookup is a linear scan (a cgroup has
// at most 8 hierarchies). Copies allocate exactly what they hold.

#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>

namespace cgwarden::collectors {

class CgroupDirs {
 public:
  struct Entry {
    std::string_view key;
    std::string_view dir;
  };

  // Yields the entries in key order ("" first), by value.
  class Iterator {
   public:
    using iterator_concept = std::forward_iterator_tag;
    using iterator_category = std::input_iterator_tag;  // operator* returns a value
    using value_type = Entry;
    using difference_type = std::ptrdiff_t;

    Iterator() = default;
    Entry operator*() const { return entry_; }
    Iterator& operator++();
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const Iterator& other) const { return at_ == other.at_; }

   private:
    friend class CgroupDirs;
    Iterator(const char* at, const char* end);
    const char* at_ = nullptr;
    const char* end_ = nullptr;
    Entry entry_;
  };

  // Adds the entry, or replaces the directory of an existing `key`; an empty `dir` erases it.
  void set(std::string_view key, std::string_view dir);
  // Removes the entry of `key`, if any.
  void erase(std::string_view key);

  // The directory of `key`; an empty view (still NUL-terminated) when there is none.
  std::string_view find(std::string_view key) const;
  bool contains(std::string_view key) const { return !find(key).empty(); }

  size_t size() const;
  bool empty() const { return packed_.empty(); }

  Iterator begin() const { return Iterator(packed_.data(), packed_.data() + packed_.size()); }
  Iterator end() const { return Iterator(packed_.data() + packed_.size(), packed_.data() + packed_.size()); }

  // Same keys with the same directories.
  bool operator==(const CgroupDirs&) const = default;

 private:
  std::string packed_;
};

}  // namespace cgwarden::collectors
