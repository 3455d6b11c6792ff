#include "archiver/ignore_rules.h"

#include "base/glob_match.h"

namespace cairn::archiver {

namespace {

// Removes trailing spaces that are not escaped by a '\' (git's
// trim_trailing_spaces).
void TrimTrailingSpaces(std::string_view& line) {
  size_t end = line.size();
  while (end > 0 && line[end - 1] == ' ') {
    // An odd number of '\' before the space escapes it.
    size_t backslashes = 0;
    while (backslashes < end - 1 && line[end - 2 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 1) break;
    --end;
  }
  line = line.substr(0, end);
}

}  // namespace

IgnoreRules IgnoreRules::Parse(std::string_view text, std::string folder) {
  IgnoreRules out;
  out.folder_ = std::move(folder);
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    TrimTrailingSpaces(line);
    Rule rule;
    if (!line.empty() && line[0] == '!') {
      rule.negate = true;
      line.remove_prefix(1);
    }
    if (line.ends_with('/')) {
      rule.dir_only = true;
      line.remove_suffix(1);
    }
    if (line.find('/') != std::string_view::npos) {
      rule.anchored = true;
      if (line[0] == '/') line.remove_prefix(1);
    }
    if (line.empty()) continue;  // "/", "!", "!/": nothing to match
    rule.pattern = std::string(line);
    out.rules_.push_back(std::move(rule));
  }
  return out;
}

IgnoreRules::Verdict IgnoreRules::Match(std::string_view path, bool is_dir) const {
  std::string_view rel = path;
  if (folder_ == "/") {
    rel.remove_prefix(1);
  } else {
    if (!path.starts_with(folder_) || path.size() <= folder_.size() + 1 ||
        path[folder_.size()] != '/')
      return Verdict::kNone;  // not below the folder
    rel.remove_prefix(folder_.size() + 1);
  }
  size_t slash = rel.rfind('/');
  std::string_view name = slash == std::string_view::npos ? rel : rel.substr(slash + 1);
  for (auto it = rules_.rbegin(); it != rules_.rend(); ++it) {
    if (it->dir_only && !is_dir) continue;
    if (GlobMatch(it->pattern, it->anchored ? rel : name, kGitignoreGlob))
      return it->negate ? Verdict::kInclude : Verdict::kExclude;
  }
  return Verdict::kNone;
}

}  // namespace cairn::archiver
