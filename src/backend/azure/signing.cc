#include "backend/azure/signing.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

namespace cairn::backend::azure {

namespace {

// The value of header `name` (case-insensitive), or "".
std::string HeaderValue(const HeaderList& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (AsciiLower(n) == name) return v;
  }
  return "";
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string StringToSign(std::string_view account, const SignableRequest& request) {
  std::string out(request.method);
  out += '\n';
  for (std::string_view h : {"content-encoding", "content-language"}) {
    out += HeaderValue(request.headers, h);
    out += '\n';
  }
  if (request.content_length > 0) out += std::to_string(request.content_length);
  out += '\n';
  for (std::string_view h : {"content-md5", "content-type", "date", "if-modified-since", "if-match",
                             "if-none-match", "if-unmodified-since", "range"}) {
    out += HeaderValue(request.headers, h);
    out += '\n';
  }
  std::map<std::string, std::string> ms;  // sorted by name, byte order
  for (const auto& [n, v] : request.headers) {
    std::string name = AsciiLower(n);
    if (name.starts_with("x-ms-")) ms[name] = v;
  }
  for (const auto& [n, v] : ms) {
    out += n;
    out += ':';
    out += v;
    out += '\n';
  }
  out += '/';
  out += account;
  out += request.url_path;
  std::map<std::string, std::vector<std::string>> query;
  for (const auto& [n, v] : request.query) query[AsciiLower(n)].push_back(v);
  for (auto& [n, values] : query) {
    std::sort(values.begin(), values.end());
    out += '\n';
    out += n;
    out += ':';
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ',';
      out += values[i];
    }
  }
  return out;
}

std::string SharedKeyAuthorization(std::string_view account, ByteView key,
                                   std::string_view string_to_sign) {
  std::array<uint8_t, 32> mac = HmacSha256(key, AsBytes(string_to_sign));
  return "SharedKey " + std::string(account) + ":" + Base64Encode(mac);
}

std::array<uint8_t, 16> Md5(ByteView data) {
  std::array<uint8_t, 16> out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_md5(), nullptr);
  return out;
}

std::string Md5Base64(ByteView data) { return Base64Encode(Md5(data)); }

std::array<uint8_t, 32> HmacSha256(ByteView key, ByteView data) {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(),
       &len);
  return out;
}

std::string PercentEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi << 4 | lo);
        i += 2;
        continue;
      }
    }
    out += (plus_is_space && s[i] == '+') ? ' ' : s[i];
  }
  return out;
}

std::string HttpDate(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::optional<int64_t> ParseHttpDate(std::string_view text) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // "Thu, 26 Nov 2026 06:15:56 GMT": fixed positions, C locale.
  if (text.size() != 29 || text[3] != ',' || text[4] != ' ' || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  auto number = [&](size_t pos, size_t len) -> int {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return -1;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  int month = -1;
  for (int m = 0; m < 12; ++m) {
    if (text.substr(8, 3) == kMonths[m]) month = m;
  }
  int day = number(5, 2), year = number(12, 4), hour = number(17, 2), min = number(20, 2),
      sec = number(23, 2);
  if (month < 0 || day < 1 || day > 31 || year < 1970 || hour < 0 || hour > 23 || min < 0 ||
      min > 59 || sec < 0 || sec > 60) {
    return std::nullopt;
  }
  struct tm tm = {};
  tm.tm_year = year - 1900;
  tm.tm_mon = month;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm));
}

std::string IsoTime(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string MakeContainerSas(const ContainerSasOptions& o, ByteView key) {
  std::string start = o.start_unix > 0 ? IsoTime(o.start_unix) : "";
  std::string expiry = IsoTime(o.expiry_unix);
  // The service SAS string to sign of version 2020-12-06 and later.
  std::string to_sign = o.permissions + "\n" + start + "\n" + expiry + "\n" + "/blob/" + o.account +
                        "/" + o.container + "\n" +
                        "\n"    // signed identifier
                        "\n"    // signed IP
                        "\n" +  // signed protocol
                        o.version +
                        "\n" +
                        "c\n"        // signed resource
                        "\n"         // snapshot time
                        "\n"         // encryption scope
                        "\n\n\n\n";  // rscc, rscd, rsce, rscl; rsct (empty) ends it
  std::string sig = Base64Encode(HmacSha256(key, AsBytes(to_sign)));
  std::string out = "sv=" + o.version + "&sr=c&sp=" + o.permissions;
  if (!start.empty()) out += "&st=" + PercentEncode(start, false);
  out += "&se=" + PercentEncode(expiry, false) + "&sig=" + PercentEncode(sig, false);
  return out;
}

}  // namespace cairn::backend::azure
