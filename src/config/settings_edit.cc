#include "config/settings_edit.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <utility>

#include "base/bytes.h"
#include "base/errno_status.h"
#include "config/private_file.h"

namespace cairn::config {
namespace {

using Value = std::variant<bool, int64_t, std::string, std::vector<std::string>>;

constexpr size_t kMaxFileBytes = 1 << 20;  // as LoadSettingsFile
constexpr size_t kDefaultIndent = 2;

std::string Prefix(std::string_view source) {
  return source.empty() ? std::string() : std::string(source) + ": ";
}

std::string Spaces(size_t n) { return std::string(n, ' '); }

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && (IsSpace(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// ---------------------------------------------------------------------------
// Writing values.

// A plain scalar with this text would be read as something other than a
// string (YAML 1.1 or 1.2: null, a boolean, a number), by yaml-cpp or by
// another tool.
bool LooksLikeOtherType(std::string_view s) {
  std::string lower = AsciiLower(s);
  for (std::string_view word :
       {"~", "null", "true", "false", "yes", "no", "on", "off", "y", "n", "=", "<<"}) {
    if (lower == word) return true;
  }
  static const std::regex* const kNumber = new std::regex(
      "[-+]?(\\.[0-9][0-9_]*|[0-9][0-9_]*(\\.[0-9_]*)?)([eE][-+]?[0-9]+)?"  // decimal, float
      "|[-+]?0[xX][0-9a-fA-F_]+|[-+]?0[oO]?[0-7_]+|[-+]?0[bB][01_]+"        // hex, octal, binary
      "|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)"                             // infinities, NaN
      "|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\\.[0-9_]*)?",                     // sexagesimal (1.1)
      std::regex::extended);
  return std::regex_match(s.begin(), s.end(), *kNumber);
}

// Whether `s` must be quoted to be read back as exactly this string; `flow`:
// inside a flow list ("[a, b]"), where ",[]{}" end a plain scalar.
bool NeedsQuotes(std::string_view s, bool flow) {
  if (s.empty() || IsSpace(s.front()) || IsSpace(s.back())) return true;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;  // tab, line break, ...
  }
  // Indicators that cannot start a plain scalar ('-' only with a space after
  // it; '?' and ':' are refused even where YAML 1.2 would allow them).
  if (std::string_view("?:,[]{}#&*!|>'\"%@`").find(s.front()) != std::string_view::npos) {
    return true;
  }
  if (s.front() == '-' && (s.size() == 1 || s[1] == ' ')) return true;
  if (s.find(": ") != std::string_view::npos || s.find(" #") != std::string_view::npos ||
      s.back() == ':') {
    return true;
  }
  if (flow && s.find_first_of(",[]{}:") != std::string_view::npos) return true;
  // A line holding only "---" or "..." ends a document.
  if (s.starts_with("---") || s.starts_with("...")) return true;
  return LooksLikeOtherType(s);
}

// `s` in quotes: double quotes unless it holds '"' or '\' (then single
// quotes, where only ' is doubled), with escapes for control characters.
std::string Quote(std::string_view s) {
  bool control = std::any_of(
      s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
  if (!control && s.find_first_of("\"\\") != std::string_view::npos) {
    std::string out = "'";
    for (char c : s) {
      out += c;
      if (c == '\'') out += '\'';
    }
    return out + "'";
  }
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\x";
          out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
          out += kHex[static_cast<unsigned char>(c) & 0xf];
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string WriteString(std::string_view s, bool flow) {
  return NeedsQuotes(s, flow) ? Quote(s) : std::string(s);
}

std::string WriteFlowList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += WriteString(items[i], /*flow=*/true);
  }
  return out + "]";
}

// The value as written after "key: " (lists in flow style).
std::string WriteValue(const Value& v) {
  if (const bool* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const int64_t* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const std::string* s = std::get_if<std::string>(&v)) return WriteString(*s, false);
  return WriteFlowList(std::get<std::vector<std::string>>(v));
}

// An existing node written again, for a flow-map section rewritten in block
// style: plain scalars keep their text (plain in a flow map is plain
// anywhere), quoted ones are quoted, explicit tags stay. `in_collection`:
// inside [...] or {...}, where an empty value is written "~".
std::string WriteNode(const YAML::Node& n, bool in_collection) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: {
      const std::string& tag = n.Tag();
      if (tag == "?") return n.Scalar();
      if (tag == "!") return Quote(n.Scalar());
      std::string written_tag;
      if (tag.starts_with("tag:yaml.org,2002:")) {
        written_tag = "!!" + tag.substr(18);
      } else if (tag.starts_with("!")) {
        written_tag = tag;
      } else {
        written_tag = "!<" + tag + ">";
      }
      return written_tag + " " + WriteString(n.Scalar(), in_collection);
    }
    case YAML::NodeType::Sequence: {
      std::string out = "[";
      bool first = true;
      for (const YAML::Node& item : n) {
        if (!first) out += ", ";
        first = false;
        out += WriteNode(item, true);
      }
      return out + "]";
    }
    case YAML::NodeType::Map: {
      std::string out = "{";
      bool first = true;
      for (const auto& entry : n) {
        if (!first) out += ", ";
        first = false;
        out += WriteNode(entry.first, true) + ": " + WriteNode(entry.second, true);
      }
      return out + "}";
    }
    default:
      return in_collection ? "~" : "";
  }
}

// YAML text is Unicode: a string that is not valid UTF-8 cannot be written.
bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;  // continuation bytes
    if (c < 0x80) {
      n = 0;
    } else if ((c >> 5) == 0x6) {
      n = 1;
    } else if ((c >> 4) == 0xe) {
      n = 2;
    } else if ((c >> 3) == 0x1e) {
      n = 3;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    uint32_t cp = n == 0 ? c : c & (0x3fu >> n);
    for (size_t k = 1; k <= n; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};  // shortest forms only
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

bool IsUtf8(const Value& v) {
  if (const std::string* s = std::get_if<std::string>(&v)) return IsUtf8(std::string_view(*s));
  if (const auto* items = std::get_if<std::vector<std::string>>(&v)) {
    return std::all_of(items->begin(), items->end(),
                       [](const std::string& s) { return IsUtf8(std::string_view(s)); });
  }
  return true;
}

// ---------------------------------------------------------------------------
// Comparing values as ParseSettings reads them.

bool IsStringTag(const std::string& tag) { return tag == "!" || tag == "tag:yaml.org,2002:str"; }

// `n` reads as the string `s` (and, plain, would be written plain by us, so
// it is no number or boolean in disguise).
bool ReadsAsString(const YAML::Node& n, std::string_view s) {
  if (!n.IsScalar() || n.Scalar() != s) return false;
  return IsStringTag(n.Tag()) || (n.Tag() == "?" && !NeedsQuotes(s, false));
}

// `n` reads as the value `v`.
bool ReadsAs(const YAML::Node& n, const Value& v) {
  if (const bool* b = std::get_if<bool>(&v)) {
    return n.IsScalar() && n.Tag() == "?" && AsciiLower(n.Scalar()) == (*b ? "true" : "false");
  }
  if (const int64_t* i = std::get_if<int64_t>(&v)) {
    if (!n.IsScalar() || n.Tag() != "?") return false;
    std::string_view text = n.Scalar();
    bool negative = false;
    if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
      negative = text[0] == '-';
      text.remove_prefix(1);
    }
    if (text.empty() ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    uint64_t magnitude = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), magnitude);
    if (ec != std::errc() || end != text.data() + text.size()) return false;
    uint64_t want = *i < 0 ? uint64_t{0} - static_cast<uint64_t>(*i) : static_cast<uint64_t>(*i);
    if (magnitude == 0) return *i == 0;
    return magnitude == want && negative == (*i < 0);
  }
  if (const std::string* s = std::get_if<std::string>(&v)) return ReadsAsString(n, *s);
  const auto& items = std::get<std::vector<std::string>>(v);
  if (!n.IsSequence() || n.size() != items.size()) return false;
  size_t index = 0;
  for (const YAML::Node& item : n) {
    if (!ReadsAsString(item, items[index++])) return false;
  }
  return true;
}

// The same YAML value: types, texts and tags (a null is a null however
// written).
bool SameNode(const YAML::Node& a, const YAML::Node& b) {
  if (a.Type() != b.Type()) return false;
  switch (a.Type()) {
    case YAML::NodeType::Scalar:
      return a.Scalar() == b.Scalar() && a.Tag() == b.Tag();
    case YAML::NodeType::Sequence: {
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!SameNode(a[i], b[i])) return false;
      }
      return true;
    }
    case YAML::NodeType::Map: {
      if (a.size() != b.size()) return false;
      for (const auto& ea : a) {
        bool found = false;
        for (const auto& eb : b) {
          if (SameNode(ea.first, eb.first)) {
            if (!SameNode(ea.second, eb.second)) return false;
            found = true;
            break;
          }
        }
        if (!found) return false;
      }
      return true;
    }
    default:
      return true;
  }
}

// The value of `name` in the mapping `map` (the first, if given twice).
std::optional<YAML::Node> Lookup(const std::optional<YAML::Node>& map, std::string_view name) {
  if (!map || !map->IsMap()) return std::nullopt;
  for (const auto& entry : *map) {
    if (entry.first.IsScalar() && entry.first.Scalar() == name) return entry.second;
  }
  return std::nullopt;
}

std::vector<std::string> KeysOf(const std::optional<YAML::Node>& map) {
  std::vector<std::string> out;
  if (!map || !map->IsMap()) return out;
  for (const auto& entry : *map) {
    if (entry.first.IsScalar()) out.push_back(entry.first.Scalar());
  }
  return out;
}

// ---------------------------------------------------------------------------
// The text, line by line.

struct Doc {
  std::vector<std::string> lines;  // without their '\n'
  bool final_newline = true;       // the last line ends with '\n'
};

Doc SplitLines(std::string_view text) {
  Doc d;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      d.lines.emplace_back(text.substr(start));
      d.final_newline = false;
      break;
    }
    d.lines.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return d;
}

std::string JoinLines(const Doc& d) {
  std::string out;
  for (size_t i = 0; i < d.lines.size(); ++i) {
    out += d.lines[i];
    if (i + 1 < d.lines.size() || d.final_newline) out += '\n';
  }
  return out;
}

size_t Indent(std::string_view line) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ') ++n;
  return n;
}

bool IsBlank(std::string_view line) { return Trim(line).empty(); }

bool IsComment(std::string_view line) {
  std::string_view t = Trim(line);
  return !t.empty() && t.front() == '#';
}

bool IsContent(std::string_view line) { return !IsBlank(line) && !IsComment(line); }

// "- item" (or a lone "-") after the indentation.
bool IsListItem(std::string_view line) {
  std::string_view t = Trim(line);
  return !t.empty() && t[0] == '-' && (t.size() == 1 || IsSpace(t[1]));
}

// A "name: ..." line whose name starts at `indent`.
struct KeyLine {
  std::string name;
  size_t after_colon = 0;  // the position after the ':'
};

std::optional<KeyLine> ParseKeyLine(std::string_view line, size_t indent) {
  if (Indent(line) != indent) return std::nullopt;
  size_t i = indent;
  while (i < line.size() && (std::isalnum(static_cast<unsigned char>(line[i])) || line[i] == '_' ||
                             line[i] == '-' || line[i] == '.')) {
    ++i;
  }
  size_t name_end = i;
  if (name_end == indent) return std::nullopt;
  while (i < line.size() && IsSpace(line[i])) ++i;
  if (i >= line.size() || line[i] != ':') return std::nullopt;
  if (i + 1 < line.size() && !IsSpace(line[i + 1])) return std::nullopt;
  return KeyLine{std::string(line.substr(indent, name_end - indent)), i + 1};
}

// Scans YAML text from `from` for the end of a quoted scalar or a comment.
// Quotes count only where a scalar starts (after ": ", "- ", '[', '{', ','):
// the quote in "it's" is text.
class Scanner {
 public:
  explicit Scanner(const std::vector<std::string>& lines) : lines_(lines) {}

  // The position of the comment ('#' after a space) on line `l` from `from`,
  // or npos. A quoted scalar that does not end on the line: npos.
  size_t FindComment(size_t l, size_t from) const {
    const std::string& s = lines_[l];
    bool token_start = true;
    for (size_t i = from; i < s.size(); ++i) {
      char c = s[i];
      if (IsSpace(c)) continue;
      if (c == '#' && (i == 0 || IsSpace(s[i - 1]))) return i;
      if (token_start && (c == '"' || c == '\'')) {
        size_t l2 = l, i2 = i;
        if (!SkipQuoted(l2, i2) || l2 != l) return std::string::npos;
        i = i2;
        token_start = false;
        continue;
      }
      token_start =
          c == '[' || c == '{' || c == ',' ||
          ((c == ':' || c == '-' || c == '?') && (i + 1 == s.size() || IsSpace(s[i + 1])));
    }
    return std::string::npos;
  }

  // From the '{' or '[' at (l, i): the line of the matching close and the
  // position after it; nullopt when it does not close.
  std::optional<std::pair<size_t, size_t>> MatchFlow(size_t l, size_t i) const {
    int depth = 0;
    bool token_start = true;
    for (; l < lines_.size(); ++l, i = 0) {
      for (; i < lines_[l].size(); ++i) {
        const std::string& s = lines_[l];
        char c = s[i];
        if (IsSpace(c)) continue;
        if (c == '#' && (i == 0 || IsSpace(s[i - 1]))) break;  // a comment: the rest of the line
        if (token_start && (c == '"' || c == '\'')) {
          if (!SkipQuoted(l, i)) return std::nullopt;
          token_start = false;
          continue;
        }
        if (c == '{' || c == '[') {
          ++depth;
          token_start = true;
          continue;
        }
        if (c == '}' || c == ']') {
          if (--depth == 0) return std::make_pair(l, i + 1);
          token_start = false;
          continue;
        }
        token_start = c == ',' || (c == ':' && (i + 1 == s.size() || IsSpace(s[i + 1])));
      }
    }
    return std::nullopt;
  }

 private:
  // From the opening quote at (l, i), moves to its closing quote (possibly on
  // a later line); false when there is none.
  bool SkipQuoted(size_t& l, size_t& i) const {
    const char quote = lines_[l][i];
    ++i;
    while (l < lines_.size()) {
      const std::string& s = lines_[l];
      if (i >= s.size()) {
        ++l;
        i = 0;
        continue;
      }
      if (quote == '"' && s[i] == '\\') {
        i += 2;
        continue;
      }
      if (s[i] == quote) {
        if (quote == '\'' && i + 1 < s.size() && s[i + 1] == '\'') {
          i += 2;
          continue;
        }
        return true;
      }
      ++i;
    }
    return false;
  }

  const std::vector<std::string>& lines_;
};

// A top-level entry of the file.
struct Section {
  enum class Kind {
    kBlock,  // "name:" with its keys on the lines below
    kFlow,   // "name: {...}", maybe over several lines
    kNull,   // "name: ~" (or null)
    kOther,  // anything else: a scalar, a list, a line that is no "name:"
  };
  std::string name;
  Kind kind = Kind::kOther;
  size_t header = 0;      // the "name:" line
  size_t header_end = 0;  // the last line of its value when inline (a flow map), else header
  size_t close = 0;       // kFlow: the position after the '}' on header_end
  size_t end = 0;         // one past the section's last line
};

std::vector<Section> ScanSections(const Doc& d) {
  Scanner scan(d.lines);
  std::vector<Section> out;
  for (size_t l = 0; l < d.lines.size(); ++l) {
    const std::string& line = d.lines[l];
    if (!IsContent(line) || Indent(line) != 0 || IsListItem(line)) continue;
    if (!out.empty()) out.back().end = l;
    Section s;
    s.header = s.header_end = l;
    std::optional<KeyLine> key = ParseKeyLine(line, 0);
    if (key) {
      s.name = key->name;
      size_t comment = scan.FindComment(l, key->after_colon);
      std::string_view rest = std::string_view(line).substr(
          key->after_colon,
          (comment == std::string::npos ? line.size() : comment) - key->after_colon);
      std::string_view value = Trim(rest);
      if (value.empty()) {
        s.kind = Section::Kind::kBlock;
      } else if (value == "~" || AsciiLower(value) == "null") {
        s.kind = Section::Kind::kNull;
      } else if (value.front() == '{' || value.front() == '[') {
        size_t open = line.find_first_not_of(" \t", key->after_colon);
        if (auto closed = scan.MatchFlow(l, open)) {
          s.header_end = closed->first;
          s.close = closed->second;
          s.kind = value.front() == '{' ? Section::Kind::kFlow : Section::Kind::kOther;
          l = s.header_end;
        }
      }
    }
    s.end = d.lines.size();
    out.push_back(std::move(s));
  }
  return out;
}

// A key of a block section and the lines of its value.
struct Entry {
  std::string name;
  size_t line = 0;  // the "name:" line
  size_t last = 0;  // the value's last line (== line for an inline value)
};

struct Body {
  size_t indent = kDefaultIndent;  // of the section's keys
  std::vector<Entry> entries;
};

Body ScanBody(const Doc& d, const Section& s, size_t default_indent) {
  Body b;
  b.indent = default_indent;
  std::optional<size_t> comment_indent;
  bool found = false;
  for (size_t l = s.header_end + 1; l < s.end; ++l) {
    const std::string& line = d.lines[l];
    if (IsContent(line) && Indent(line) > 0) {
      b.indent = Indent(line);
      found = true;
      break;
    }
    if (!comment_indent && IsComment(line) && Indent(line) > 0) comment_indent = Indent(line);
  }
  if (!found && comment_indent) b.indent = *comment_indent;
  const size_t k = b.indent;
  for (size_t l = s.header_end + 1; l < s.end; ++l) {
    const std::string& line = d.lines[l];
    if (!IsContent(line) || IsListItem(line)) continue;
    std::optional<KeyLine> key = ParseKeyLine(line, k);
    if (!key) continue;
    Entry e{key->name, l, l};
    for (size_t m = l + 1; m < s.end; ++m) {
      const std::string& next = d.lines[m];
      if (!IsContent(next)) continue;
      if (Indent(next) > k || (Indent(next) == k && IsListItem(next))) {
        e.last = m;
      } else {
        break;
      }
    }
    b.entries.push_back(e);
    l = e.last;
  }
  return b;
}

// The indentation of the file's keys: that of its first block section with
// keys, else 2.
size_t DocumentIndent(const Doc& d, const std::vector<Section>& sections) {
  for (const Section& s : sections) {
    if (s.kind != Section::Kind::kBlock) continue;
    for (size_t l = s.header_end + 1; l < s.end; ++l) {
      if (IsContent(d.lines[l]) && Indent(d.lines[l]) > 0) return Indent(d.lines[l]);
    }
  }
  return kDefaultIndent;
}

std::string JoinRange(const Doc& d, size_t first, size_t last) {
  std::string out;
  for (size_t l = first; l <= last; ++l) out += d.lines[l] + "\n";
  return out;
}

// The value node of a single-key mapping written on lines first..last.
std::optional<YAML::Node> LoadEntry(const Doc& d, size_t first, size_t last) {
  try {
    YAML::Node root = YAML::Load(JoinRange(d, first, last));
    if (!root.IsMap() || root.size() != 1) return std::nullopt;
    return root.begin()->second;
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
}

// ---------------------------------------------------------------------------
// Applying one change.

class Editor {
 public:
  Editor(Doc& doc, std::string_view source) : doc_(doc), source_(source) {}

  Status Apply(const std::string& section_name, const std::string& key,
               const std::optional<Value>& value) {
    std::vector<Section> sections = ScanSections(doc_);
    const size_t doc_indent = DocumentIndent(doc_, sections);
    auto it = std::find_if(sections.begin(), sections.end(),
                           [&](const Section& s) { return s.name == section_name; });
    if (it == sections.end()) {
      if (value) AppendSection(section_name, key, *value, doc_indent);
      return Status::OK();
    }
    Section section = *it;
    switch (section.kind) {
      case Section::Kind::kOther:
        return Status::Unsupported(Prefix(source_) + section_name +
                                   ": the section is not a list of keys, so " + section_name + "." +
                                   key + " cannot be changed; fix the file by hand");
      case Section::Kind::kFlow:
      case Section::Kind::kNull: {
        if (!value && !FlowSectionHas(section, key)) return Status::OK();
        CAIRN_RETURN_IF_ERROR(RewriteInBlockStyle(section, doc_indent));
        sections = ScanSections(doc_);
        section = *std::find_if(sections.begin(), sections.end(),
                                [&](const Section& s) { return s.name == section_name; });
        break;
      }
      case Section::Kind::kBlock:
        break;
    }
    Body body = ScanBody(doc_, section, doc_indent);
    auto entry = std::find_if(body.entries.begin(), body.entries.end(),
                              [&](const Entry& e) { return e.name == key; });
    if (entry == body.entries.end()) {
      if (!value) return Status::OK();
      size_t at = InsertionPoint(section, body, key);
      doc_.lines.insert(doc_.lines.begin() + static_cast<std::ptrdiff_t>(at),
                        Spaces(body.indent) + key + ": " + WriteValue(*value));
      return Status::OK();
    }
    if (!value) {
      doc_.lines.erase(doc_.lines.begin() + static_cast<std::ptrdiff_t>(entry->line),
                       doc_.lines.begin() + static_cast<std::ptrdiff_t>(entry->last + 1));
      // A key that stood between blank lines leaves one, not two.
      const size_t at = entry->line;
      if (at > 0 && at < doc_.lines.size() && IsBlank(doc_.lines[at - 1]) &&
          IsBlank(doc_.lines[at])) {
        doc_.lines.erase(doc_.lines.begin() + static_cast<std::ptrdiff_t>(at));
      }
      return Status::OK();
    }
    Replace(*entry, body.indent, *value);
    return Status::OK();
  }

 private:
  void AppendSection(const std::string& section, const std::string& key, const Value& value,
                     size_t indent) {
    if (!doc_.lines.empty() && !IsBlank(doc_.lines.back())) doc_.lines.push_back("");
    doc_.lines.push_back(section + ":");
    doc_.lines.push_back(Spaces(indent) + key + ": " + WriteValue(value));
  }

  std::optional<YAML::Node> FlowSectionNode(const Section& s) const {
    return LoadEntry(doc_, s.header, s.header_end);
  }

  bool FlowSectionHas(const Section& s, const std::string& key) const {
    return Lookup(FlowSectionNode(s), key).has_value();
  }

  // "name: {a: 1, b: [x]}  # c" -> "name:  # c", "  a: 1", "  b: [x]".
  Status RewriteInBlockStyle(const Section& s, size_t indent) {
    std::optional<YAML::Node> node = FlowSectionNode(s);
    if (!node || !(node->IsMap() || node->IsNull())) {
      return Status::Unsupported(Prefix(source_) + s.name +
                                 ": cannot rewrite the section; fix the file by hand");
    }
    std::vector<std::string> lines;
    std::string header = s.name + ":";
    const std::string& last = doc_.lines[s.header_end];
    size_t from = s.kind == Section::Kind::kFlow ? s.close : ParseKeyLine(last, 0)->after_colon;
    size_t comment = Scanner(doc_.lines).FindComment(s.header_end, from);
    if (comment != std::string::npos) header += "  " + last.substr(comment);
    lines.push_back(header);
    if (node->IsMap()) {
      for (const auto& entry : *node) {
        std::string value = WriteNode(entry.second, false);
        lines.push_back(Spaces(indent) + WriteNode(entry.first, true) + ":" +
                        (value.empty() ? "" : " " + value));
      }
    }
    auto first = doc_.lines.begin() + static_cast<std::ptrdiff_t>(s.header);
    doc_.lines.erase(first, doc_.lines.begin() + static_cast<std::ptrdiff_t>(s.header_end + 1));
    doc_.lines.insert(doc_.lines.begin() + static_cast<std::ptrdiff_t>(s.header), lines.begin(),
                      lines.end());
    return Status::OK();
  }

  // Inside the value of one of the section's keys.
  static bool InsideEntry(const Body& body, size_t l) {
    return std::any_of(body.entries.begin(), body.entries.end(),
                       [&](const Entry& e) { return l > e.line && l <= e.last; });
  }

  // Where a missing key goes: after the section's commented-out example of
  // it ("  # keep_daily: 7"), else after the section's last indented line.
  size_t InsertionPoint(const Section& s, const Body& body, const std::string& key) const {
    std::optional<size_t> example;
    for (size_t l = s.header_end + 1; l < s.end; ++l) {
      const std::string& line = doc_.lines[l];
      if (!IsComment(line) || Indent(line) != body.indent || InsideEntry(body, l)) continue;
      std::string_view rest = std::string_view(line).substr(body.indent + 1);  // after '#'
      while (!rest.empty() && IsSpace(rest.front())) rest.remove_prefix(1);
      if (!rest.starts_with(key)) continue;
      rest.remove_prefix(key.size());
      while (!rest.empty() && IsSpace(rest.front())) rest.remove_prefix(1);
      if (rest.starts_with(":") && (rest.size() == 1 || IsSpace(rest[1]))) example = l;
    }
    if (example) return *example + 1;
    size_t last = s.header_end;
    for (size_t l = s.header_end + 1; l < s.end; ++l) {
      if (!IsBlank(doc_.lines[l]) && Indent(doc_.lines[l]) > 0) last = l;
    }
    return last + 1;
  }

  // Replaces the value of an existing key.
  void Replace(const Entry& e, size_t indent, const Value& value) {
    std::optional<YAML::Node> old = LoadEntry(doc_, e.line, e.last);
    if (old && ReadsAs(*old, value)) return;  // already so: the lines stay as they are

    const std::string key_line = doc_.lines[e.line];
    const size_t after_colon = ParseKeyLine(key_line, indent)->after_colon;
    const size_t comment = Scanner(doc_.lines).FindComment(e.line, after_colon);
    const size_t value_stop = comment == std::string::npos ? key_line.size() : comment;
    std::string_view inline_value =
        Trim(std::string_view(key_line).substr(after_colon, value_stop - after_colon));
    // The comment after the value, with the spaces before it.
    std::string tail;
    if (comment != std::string::npos) {
      size_t value_end = key_line.find_last_not_of(" \t", comment - 1);
      value_end =
          (value_end == std::string::npos || value_end < after_colon) ? after_colon : value_end + 1;
      tail = key_line.substr(value_end);  // starts with a space: '#' follows one
    }
    std::vector<std::string> lines;
    const auto* items = std::get_if<std::vector<std::string>>(&value);
    const bool block_list = inline_value.empty() && e.last > e.line && items != nullptr &&
                            !items->empty() && IsBlockList(e) && old && old->IsSequence();
    if (block_list) {
      lines.push_back(key_line);
      WriteBlockList(e, *old, *items, lines);
    } else {
      lines.push_back(key_line.substr(0, after_colon) + " " + WriteValue(value) + tail);
    }
    doc_.lines.erase(doc_.lines.begin() + static_cast<std::ptrdiff_t>(e.line),
                     doc_.lines.begin() + static_cast<std::ptrdiff_t>(e.last + 1));
    doc_.lines.insert(doc_.lines.begin() + static_cast<std::ptrdiff_t>(e.line), lines.begin(),
                      lines.end());
  }

  bool IsBlockList(const Entry& e) const {
    for (size_t l = e.line + 1; l <= e.last; ++l) {
      if (IsContent(doc_.lines[l])) return IsListItem(doc_.lines[l]);
    }
    return false;
  }

  // The new block list, in the old list's indentation; an item that stays
  // keeps its line (its quotes, its comment) and the comment lines above it.
  void WriteBlockList(const Entry& e, const YAML::Node& old, const std::vector<std::string>& items,
                      std::vector<std::string>& out) const {
    struct OldItem {
      std::vector<std::string> lines;  // comment and blank lines above it, then its line
      bool single_line = true;
      bool used = false;
      std::optional<YAML::Node> node;
    };
    std::vector<OldItem> old_items;
    std::vector<std::string> pending;
    size_t item_indent = 0;
    std::string marker = "- ";
    for (size_t l = e.line + 1; l <= e.last; ++l) {
      const std::string& line = doc_.lines[l];
      if (!IsContent(line)) {
        pending.push_back(line);
      } else if (IsListItem(line) && (old_items.empty() || Indent(line) == item_indent)) {
        if (old_items.empty()) {
          item_indent = Indent(line);
          size_t text = line.find_first_not_of(" \t", item_indent + 1);
          if (text != std::string::npos) marker = line.substr(item_indent, text - item_indent);
        }
        pending.push_back(line);
        old_items.push_back({std::move(pending), true, false, std::nullopt});
        pending.clear();
      } else if (!old_items.empty()) {
        old_items.back().single_line = false;  // a continuation of the item
      }
    }
    if (old_items.size() == old.size()) {
      size_t index = 0;
      for (const YAML::Node& item : old) old_items[index++].node = item;
    }
    for (const std::string& item : items) {
      auto reuse = std::find_if(old_items.begin(), old_items.end(), [&](const OldItem& o) {
        return !o.used && o.single_line && o.node && ReadsAsString(*o.node, item);
      });
      if (reuse != old_items.end()) {
        reuse->used = true;
        out.insert(out.end(), reuse->lines.begin(), reuse->lines.end());
      } else {
        out.push_back(Spaces(item_indent) + marker + WriteString(item, false));
      }
    }
  }

  Doc& doc_;
  std::string_view source_;
};

// Checks that `edited` reads as `original` with `changes` applied: every
// key not changed has the same value, every changed one its new value.
Status Verify(const YAML::Node& original, std::string_view edited,
              const std::map<std::string, std::map<std::string, std::optional<Value>>>& changes,
              std::string_view source) {
  auto refuse = [&](const std::string& what) {
    return Status::Unsupported(Prefix(source) + "cannot edit the file safely (" + what +
                               "); change it by hand");
  };
  YAML::Node after;
  try {
    after = YAML::Load(std::string(edited));
  } catch (const YAML::Exception& e) {
    return refuse("the result would not be valid YAML: " + e.msg);
  }
  if (!after.IsMap() && !after.IsNull()) return refuse("the result would not be a mapping");
  std::optional<YAML::Node> before_root = original, after_root = after;
  std::set<std::string> sections;
  for (const std::string& s : KeysOf(before_root)) sections.insert(s);
  for (const std::string& s : KeysOf(after_root)) sections.insert(s);
  for (const auto& [s, unused] : changes) sections.insert(s);
  for (const std::string& section : sections) {
    std::optional<YAML::Node> b = Lookup(before_root, section), a = Lookup(after_root, section);
    auto changed = changes.find(section);
    if (changed == changes.end() && b && a && SameNode(*b, *a)) continue;
    if ((b && !b->IsMap() && !b->IsNull()) || (a && !a->IsMap() && !a->IsNull())) {
      return refuse(section + " would read differently");
    }
    std::set<std::string> keys;
    for (const std::string& k : KeysOf(b)) keys.insert(k);
    for (const std::string& k : KeysOf(a)) keys.insert(k);
    if (changed != changes.end()) {
      for (const auto& [k, unused] : changed->second) keys.insert(k);
    }
    for (const std::string& key : keys) {
      std::optional<YAML::Node> bv = Lookup(b, key), av = Lookup(a, key);
      const std::string path = section + "." + key;
      if (changed != changes.end()) {
        auto change = changed->second.find(key);
        if (change != changed->second.end()) {
          if (!change->second ? av.has_value() : !av || !ReadsAs(*av, *change->second)) {
            return refuse(path + " would not read as given");
          }
          continue;
        }
      }
      if (bv.has_value() != av.has_value() || (bv && !SameNode(*bv, *av))) {
        return refuse(path + " would read differently");
      }
    }
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Files.

struct CurrentFile {
  bool exists = false;
  std::string text;
  mode_t mode = 0600;
  std::optional<Owner> owner;
};

Result<CurrentFile> ReadCurrent(const std::string& path) {
  CurrentFile f;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return f;
    return ErrnoStatus(errno, "read the settings file", path);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus(err, "read the settings file", path);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument("config file '" + path + "' is a directory");
  }
  f.exists = true;
  f.mode = st.st_mode & 07777;
  f.owner = Owner{st.st_uid, st.st_gid};
  char buffer[8192];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return ErrnoStatus(err, "read the settings file", path);
    }
    if (n == 0) break;
    f.text.append(buffer, static_cast<size_t>(n));
    if (f.text.size() > kMaxFileBytes) {
      ::close(fd);
      return Status::InvalidArgument("config file '" + path +
                                     "' is larger than 1 MiB; is it really a settings file?");
    }
  }
  ::close(fd);
  return f;
}

}  // namespace

// ---------------------------------------------------------------------------

Result<std::string> EditSettingsText(std::string_view text,
                                     const std::vector<SettingChange>& changes,
                                     std::string_view source_name) {
  // The final value of each key, by section.
  std::map<std::string, std::map<std::string, std::optional<Value>>> final_values;
  for (const SettingChange& c : changes) {
    CAIRN_RETURN_IF_ERROR(CheckSettingsKey(c.key, source_name));
    if (c.value && !IsUtf8(*c.value)) {
      return Status::InvalidArgument(Prefix(source_name) + c.key +
                                     ": the value is not valid UTF-8");
    }
    size_t dot = c.key.find('.');
    final_values[c.key.substr(0, dot)][c.key.substr(dot + 1)] = c.value;
  }
  YAML::Node original;
  try {
    original = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    std::string where;
    if (!e.mark.is_null()) {
      where = "line " + std::to_string(e.mark.line + 1) + ", column " +
              std::to_string(e.mark.column + 1) + ": ";
    }
    return Status::InvalidArgument(Prefix(source_name) + where + "not valid YAML: " + e.msg);
  }
  if (!original.IsMap() && !original.IsNull()) {
    return Status::InvalidArgument(Prefix(source_name) +
                                   "expected sections such as 'backup:' at the top level");
  }
  Doc doc = SplitLines(text);
  Editor editor(doc, source_name);
  for (const SettingChange& c : changes) {
    size_t dot = c.key.find('.');
    CAIRN_RETURN_IF_ERROR(editor.Apply(c.key.substr(0, dot), c.key.substr(dot + 1), c.value));
  }
  std::string edited = JoinLines(doc);
  CAIRN_RETURN_IF_ERROR(Verify(original, edited, final_values, source_name));
  return edited;
}

Result<Settings> UpdateSettingsFile(const std::string& path,
                                    const std::vector<SettingChange>& changes) {
  // Through a symlink, its target is replaced and the link kept.
  std::string target = path;
  struct stat lst;
  if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
    std::unique_ptr<char, decltype(&::free)> real(::realpath(path.c_str(), nullptr), &::free);
    if (real) target = real.get();
  }
  CAIRN_ASSIGN_OR_RETURN(CurrentFile current, ReadCurrent(target));
  CAIRN_ASSIGN_OR_RETURN(std::string edited, EditSettingsText(current.text, changes, path));
  CAIRN_ASSIGN_OR_RETURN(Settings settings, ParseSettings(edited, path));
  if (current.exists && edited == current.text) return settings;

  size_t slash = target.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    CAIRN_RETURN_IF_ERROR(MakeFolders(target.substr(0, slash)));
  }
  if (current.exists) {
    CAIRN_RETURN_IF_ERROR(
        WriteFileAtomically(path + ".bak", current.text, current.mode, current.owner));
  }
  CAIRN_RETURN_IF_ERROR(WriteFileAtomically(target, edited, current.mode, current.owner));
  return settings;
}

}  // namespace cairn::config
