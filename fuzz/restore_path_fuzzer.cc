// Restore's path rules (restorer/restorer.h): which records of a repository
// a restore writes, and where. A repository's records are decrypted data
// that a restore must still not trust to stay inside its target.
//
// Input: three NUL-separated strings: a record's path, the requested path
// and the target folder.
// Property: when the requested path and the target pass the restore's own
// checks and the record is accepted (IsRestorablePath), its destination,
// resolved lexically ("..", ".", "//"), is the target's requested path or
// lies below it, and holds no NUL: no accepted path escapes its target.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "restorer/restorer.h"

using namespace cairn;

namespace {

// "/a/./b/../c//d" -> "/a/c/d"; ".." at the root stays at the root.
std::string Resolve(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    std::string_view c = path.substr(pos, next - pos);
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!c.empty() && c != ".") {
      parts.push_back(c);
    }
    pos = next + 1;
  }
  std::string out;
  for (std::string_view c : parts) {
    out += '/';
    out += c;
  }
  return out.empty() ? "/" : out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in = fuzz::AsText(data, size);
  const size_t a = in.find('\0');
  if (a == std::string::npos) return 0;
  const size_t b = in.find('\0', a + 1);
  if (b == std::string::npos) return 0;
  const std::string record = in.substr(0, a);
  const std::string requested = in.substr(a + 1, b - a - 1);
  const std::string target = in.substr(b + 1);

  // The restore's own checks of its options (restorer.cc, CheckOptions).
  if (!restorer::IsNormalAbsolutePath(requested)) return 0;
  if (!target.empty() && !restorer::IsNormalAbsolutePath(target)) return 0;
  if (!restorer::IsRestorablePath(record, requested)) return 0;

  FUZZ_CHECK(record.find('\0') == std::string::npos);
  FUZZ_CHECK(restorer::IsAtOrUnder(record, requested));
  const std::string dest = restorer::Destination(target, record);
  const std::string root = restorer::Destination(target, requested);
  FUZZ_CHECK(dest.find('\0') == std::string::npos);
  FUZZ_CHECK(Resolve(dest) == dest);  // nothing to resolve: no "..", ".", "//"
  FUZZ_CHECK(restorer::IsAtOrUnder(Resolve(dest), Resolve(root)));
  if (!target.empty() && target != "/") FUZZ_CHECK(restorer::IsAtOrUnder(Resolve(dest), target));
  return 0;
}
