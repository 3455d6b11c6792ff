#include "watch/path_filter.h"

namespace cairn::watch {

Result<std::string> NormalizePath(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return Status::InvalidArgument("not an absolute path: \"" + std::string(path) + "\"");
  }
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(pos, end - pos);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    pos = end + 1;
  }
  std::string out;
  for (std::string_view part : parts) {
    out += '/';
    out += part;
  }
  return out.empty() ? std::string("/") : out;
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (out.empty() || out.back() != '/') out += '/';
  out += name;
  return out;
}

bool IsSameOrUnder(std::string_view path, std::string_view prefix) {
  if (prefix == "/") return !path.empty() && path.front() == '/';
  if (path.size() < prefix.size() || path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

PathFilter::PathFilter(const std::vector<std::string>& excluded_prefixes, ExcludeFn exclude)
    : exclude_(std::move(exclude)) {
  for (const std::string& p : excluded_prefixes) {
    Result<std::string> n = NormalizePath(p);
    if (n.ok()) prefixes_.push_back(std::move(n).value());
  }
}

bool PathFilter::Excluded(std::string_view path, bool is_dir) const {
  for (const std::string& p : prefixes_) {
    if (IsSameOrUnder(path, p)) return true;
  }
  return exclude_ && exclude_(path, is_dir);
}

}  // namespace cairn::watch
