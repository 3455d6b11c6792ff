#include "config/env_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/errno_status.h"

namespace cairn::config {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool ValidName(std::string_view n) {
  if (n.empty() || (n[0] >= '0' && n[0] <= '9')) return false;
  for (char c : n)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

// The name an assignment line sets ("" for anything else). Accepts a
// leading "export " as shells write it.
std::string AssignedName(std::string_view line) {
  line = Trim(line);
  if (line.empty() || line[0] == '#' || line[0] == ';') return "";
  if (line.substr(0, 7) == "export ") line = Trim(line.substr(7));
  size_t eq = line.find('=');
  if (eq == std::string_view::npos) return "";
  std::string_view name = Trim(line.substr(0, eq));
  return ValidName(name) ? std::string(name) : "";
}

std::string Unquote(std::string_view v) {
  v = Trim(v);
  if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"') && v.back() == v.front())
    return std::string(v.substr(1, v.size() - 2));
  return std::string(v);
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> ParseEnvFileText(std::string_view text) {
  std::map<std::string, std::string> out;
  for (std::string_view line : Lines(text)) {
    std::string name = AssignedName(line);
    if (name.empty()) continue;
    out[name] = Unquote(line.substr(line.find('=') + 1));
  }
  return out;
}

Result<std::string> QuoteEnvValue(std::string_view value) {
  bool plain = !value.empty();
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f)
      return Status::InvalidArgument(
          "a value holding a newline or a control character cannot "
          "be written to an environment file");
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          std::string_view("_-./:@+,").find(static_cast<char>(c)) != std::string_view::npos))
      plain = false;
  }
  if (plain) return std::string(value);
  if (value.find('\'') != std::string_view::npos)
    return Status::InvalidArgument(
        "a value holding a single quote cannot be written to an environment file");
  return "'" + std::string(value) + "'";
}

Result<std::string> EditEnvFileText(std::string_view text, const std::vector<EnvChange>& changes) {
  std::vector<std::string> lines;
  for (std::string_view l : Lines(text)) lines.emplace_back(l);
  for (const auto& [name, value] : changes) {
    if (!ValidName(name)) return Status::InvalidArgument("'" + name + "' is not a variable name");
    std::string replacement;
    if (value) {
      CAIRN_ASSIGN_OR_RETURN(std::string quoted, QuoteEnvValue(*value));
      replacement = name + "=" + quoted;
    }
    bool placed = false;
    std::vector<std::string> next;
    for (std::string& l : lines) {
      if (AssignedName(l) != name) {
        next.push_back(std::move(l));
        continue;
      }
      if (value && !placed) next.push_back(replacement);
      placed = true;
    }
    if (value && !placed) next.push_back(replacement);
    lines = std::move(next);
  }
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

}  // namespace cairn::config
