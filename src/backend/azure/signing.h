// Shared Key and SAS signatures for the Blob REST API, and the encodings and
// digests they rely on.
//
// Shared Key (x-ms-version 2015-02-21 and later): the string to sign is the
// verb, then Content-Encoding, Content-Language, Content-Length (empty when
// 0), Content-MD5, Content-Type, Date, If-Modified-Since, If-Match,
// If-None-Match, If-Unmodified-Since and Range (each empty when not sent),
// then every x-ms-* header as "name:value" (names lower-cased, sorted), then
// the canonicalized resource: "/ACCOUNT" + the URI path as sent, then one
// "\nname:value" per query parameter (names lower-cased and sorted, values
// decoded, repeated names joined by ','). All lines are joined by '\n'.
// The Authorization header is "SharedKey ACCOUNT:" +
// base64(HMAC-SHA256(key, string to sign)).
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"

namespace cairn::backend::azure {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// What of a request goes into its signature.
struct SignableRequest {
  std::string_view method;    // "GET", "PUT", "HEAD", "DELETE"
  std::string_view url_path;  // as sent (percent-encoded), starting with '/'
  HeaderList query;           // decoded names and values
  HeaderList headers;         // as sent (names in any case)
  uint64_t content_length = 0;
};

std::string StringToSign(std::string_view account, const SignableRequest& request);
// The value of the Authorization header.
std::string SharedKeyAuthorization(std::string_view account, ByteView key,
                                   std::string_view string_to_sign);

std::array<uint8_t, 16> Md5(ByteView data);
// base64 of the MD5, as in Content-MD5.
std::string Md5Base64(ByteView data);
std::array<uint8_t, 32> HmacSha256(ByteView key, ByteView data);

// Percent-encodes all but unreserved characters (A-Z a-z 0-9 - . _ ~) and,
// when `keep_slash`, '/'.
std::string PercentEncode(std::string_view s, bool keep_slash);
// Decodes %XX (and, in query strings, '+' as a space when `plus_is_space`).
// Malformed escapes are kept as they are.
std::string PercentDecode(std::string_view s, bool plus_is_space = false);

// "Thu, 26 Nov 2026 06:15:56 GMT" (RFC 1123), for x-ms-date.
std::string HttpDate(int64_t unix_seconds);
// The inverse of HttpDate, for Last-Modified: Unix seconds, or nullopt for
// anything but "Ddd, DD Mon YYYY HH:MM:SS GMT".
std::optional<int64_t> ParseHttpDate(std::string_view text);
// "2026-11-26T06:15:56Z", for SAS start and expiry times.
std::string IsoTime(int64_t unix_seconds);

// A service SAS for a whole container (sr=c), signed with the account key,
// as a query string without '?': "sv=...&sr=c&sp=...&se=...&sig=...".
// `permissions` in the documented order, e.g. "racwdl" or "rl".
struct ContainerSasOptions {
  std::string account;
  std::string container;
  std::string permissions;
  int64_t expiry_unix = 0;
  int64_t start_unix = 0;  // 0: no start
  std::string version = "2022-11-02";
};
std::string MakeContainerSas(const ContainerSasOptions& options, ByteView key);

}  // namespace cairn::backend::azure
