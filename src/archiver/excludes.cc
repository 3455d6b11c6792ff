#include "archiver/excludes.h"

#include "base/glob_match.h"

namespace cairn::archiver {

bool MatchesExclude(const std::vector<std::string>& patterns, std::string_view absolute_path) {
  size_t slash = absolute_path.rfind('/');
  std::string_view base =
      slash == std::string_view::npos ? absolute_path : absolute_path.substr(slash + 1);
  for (const std::string& pattern : patterns) {
    if (pattern.empty()) continue;
    if (pattern.find('/') == std::string::npos) {
      if (GlobMatch(pattern, base, kExcludeGlob) || GlobMatch(pattern, absolute_path, kExcludeGlob))
        return true;
      continue;
    }
    for (size_t start = 0; start <= absolute_path.size();) {
      if (GlobMatch(pattern, absolute_path.substr(start), kExcludeGlob)) return true;
      size_t next = absolute_path.find('/', start);
      if (next == std::string_view::npos) break;
      start = next + 1;
    }
  }
  return false;
}

const std::vector<std::string>& EditorTemporaryPatterns() {
  static const std::vector<std::string>* const patterns =
      new std::vector<std::string>{".*.sw[a-p]", ".*.swx", "*~", ".~lock.*#", "#*#", ".#*", "~$*"};
  return *patterns;
}

std::string LiteralPattern(std::string_view path) {
  std::string out;
  for (char c : path) {
    if (c == '*' || c == '?' || c == '[') {
      out += '[';
      out += c;
      out += ']';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace cairn::archiver
