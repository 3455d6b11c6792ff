// ScopedEnv sets (or unsets) an environment variable for the life of the
// object, then puts back what was there before; ScopedTz does the same for
// TZ and calls tzset() both times.
// Thread-safety: setenv and unsetenv race with every other thread's getenv
// (glibc documents them MT-Unsafe). Make and destroy these only while the test
// runs no other thread: before it starts the code under test, or after it has
// stopped it.
#pragma once

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

namespace cairn::testing {

class ScopedEnv {
 public:
  // value nullptr: `name` is unset.
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    Set(name, value);
  }
  ~ScopedEnv() { Set(name_.c_str(), old_ ? old_->c_str() : nullptr); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  static void Set(const char* name, const char* value) {
    // NOLINTBEGIN(concurrency-mt-unsafe): no other thread runs (see the top).
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
    // NOLINTEND(concurrency-mt-unsafe)
  }

  std::string name_;
  std::optional<std::string> old_;
};

// A time zone for the object's life: TZ (a POSIX rule such as "CET-1CEST",
// so no tzdata is needed), then the TZ from before.
class ScopedTz {
 public:
  explicit ScopedTz(const char* tz) {
    env_.emplace("TZ", tz);
    ::tzset();
  }
  ~ScopedTz() {
    env_.reset();
    ::tzset();
  }
  ScopedTz(const ScopedTz&) = delete;
  ScopedTz& operator=(const ScopedTz&) = delete;

 private:
  std::optional<ScopedEnv> env_;
};

}  // namespace cairn::testing
