#include "backend/azure/blob_list.h"

#include <cstdint>
#include <cstdlib>

#include "backend/azure/signing.h"

namespace cairn::backend::azure {

std::string XmlUnescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out += s[i];
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp")
      out += '&';
    else if (ent == "lt")
      out += '<';
    else if (ent == "gt")
      out += '>';
    else if (ent == "quot")
      out += '"';
    else if (ent == "apos")
      out += '\'';
    else if (ent.starts_with("#x"))
      out += static_cast<char>(std::strtol(std::string(ent.substr(2)).c_str(), nullptr, 16));
    else if (ent.starts_with("#"))
      out += static_cast<char>(std::strtol(std::string(ent.substr(1)).c_str(), nullptr, 10));
    else {
      out += s.substr(i, semi - i + 1);
    }
    i = semi;
  }
  return out;
}

std::optional<std::string_view> XmlElement(std::string_view xml, std::string_view tag) {
  std::string open = "<" + std::string(tag) + ">";
  std::string close = "</" + std::string(tag) + ">";
  size_t start = xml.find(open);
  if (start == std::string_view::npos) return std::nullopt;
  start += open.size();
  size_t end = xml.find(close, start);
  if (end == std::string_view::npos) return std::nullopt;
  return xml.substr(start, end - start);
}

std::string Unquote(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return etag;
}

int64_t MtimeFromHttpDate(std::string_view text) {
  std::optional<int64_t> t = ParseHttpDate(text);
  // Dates past 2262 (4-digit years go to 9999) do not fit in ns: unknown.
  if (!t || *t < 0 || *t > INT64_MAX / 1'000'000'000) return 0;
  return *t * 1'000'000'000;
}

Status ParseBlobListPage(std::string_view xml, std::string_view location,
                         const std::function<Status(const std::string&, ObjectInfo)>& fn,
                         std::string* next_marker) {
  next_marker->clear();
  size_t pos = 0;
  while (true) {
    size_t start = xml.find("<Blob>", pos);
    if (start == std::string_view::npos) break;
    size_t end = xml.find("</Blob>", start);
    if (end == std::string_view::npos)
      return Status::Unavailable("truncated listing of " + std::string(location));
    std::string_view item = xml.substr(start, end - start);
    pos = end + 7;
    auto name = XmlElement(item, "Name");
    auto size = XmlElement(item, "Content-Length");
    auto etag = XmlElement(item, "Etag");
    auto md5 = XmlElement(item, "Content-MD5");
    auto modified = XmlElement(item, "Last-Modified");
    auto tier = XmlElement(item, "AccessTier");
    if (!name) continue;
    ObjectInfo info;
    info.size = size ? std::strtoull(std::string(*size).c_str(), nullptr, 10) : 0;
    if (etag) info.etag = Unquote(XmlUnescape(*etag));
    if (md5) info.content_md5 = std::string(*md5);
    if (modified) info.mtime = MtimeFromHttpDate(XmlUnescape(*modified));
    if (tier) info.access_tier = XmlUnescape(*tier);
    CAIRN_RETURN_IF_ERROR(fn(XmlUnescape(*name), std::move(info)));
  }
  auto next = XmlElement(xml, "NextMarker");
  if (next) *next_marker = XmlUnescape(*next);  // passed back as is, never parsed
  return Status::OK();
}

}  // namespace cairn::backend::azure
