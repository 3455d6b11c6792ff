// The web server's checks of request headers (web/auth.h): Host and Origin
// (DNS rebinding and cross-site requests), the session cookie, Bearer
// credentials, loopback addresses.
//
// Input: a selector byte, then a header's value.
// Properties: a Host header is accepted only when it names this server
// (127.0.0.1, localhost or [::1], optionally with our port 5000, any case,
// leading zeros allowed in the port); an Origin only as http:// plus such a
// host; a Bearer token and a cookie value are pieces of the header without
// surrounding blanks (a cookie value without ';'); an address called
// loopback is one (127.0.0.0/8 as four numbers of 0-255, ::1, localhost).
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>

#include "base/bytes.h"
#include "fuzz/fuzz_util.h"
#include "web/auth.h"

using namespace cairn;

namespace {

bool Blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trimmed(std::string_view s) {
  while (!s.empty() && Blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && Blank(s.back())) s.remove_suffix(1);
  return s;
}

// "host" or "host:0*5000" with host one of ours.
bool NamesUs(std::string_view hp) {
  const std::string lower = AsciiLower(hp);
  for (std::string_view host : {"127.0.0.1", "localhost", "[::1]"}) {
    if (!std::string_view(lower).starts_with(host)) continue;
    std::string_view rest = std::string_view(lower).substr(host.size());
    if (rest.empty()) return false;  // our port is not the scheme's default
    if (rest.front() != ':') continue;
    rest.remove_prefix(1);
    while (rest.size() > 4 && rest.front() == '0') rest.remove_prefix(1);
    if (rest == "5000") return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string value = fuzz::AsText(data + 1, size - 1);
  static const web::OriginPolicy policy = web::MakeOriginPolicy("127.0.0.1", 5000, false, {});
  switch (data[0] % 5) {
    case 0:
      if (web::HostAllowed(policy, value)) FUZZ_CHECK(NamesUs(Trimmed(value)));
      break;
    case 1:
      if (web::OriginAllowed(policy, value)) {
        std::string_view o = Trimmed(value);
        FUZZ_CHECK(AsciiLower(o.substr(0, 7)) == "http://");
        FUZZ_CHECK(NamesUs(o.substr(7)));
      }
      break;
    case 2: {
      std::optional<std::string> token = web::BearerToken(value);
      if (token) {
        // (HTTP header values hold no CR or LF; the leading blanks trimmed
        // are spaces and tabs.)
        FUZZ_CHECK(!token->empty() && token->front() != ' ' && token->front() != '\t' &&
                   !Blank(token->back()));
        FUZZ_CHECK(value.find(*token) != std::string::npos);
        FUZZ_CHECK(AsciiLower(Trimmed(value).substr(0, 7)) == "bearer ");
      }
      break;
    }
    case 3: {
      const std::string cookie = web::CookieValue(value, "cairn_session");
      FUZZ_CHECK(cookie.find(';') == std::string::npos);
      FUZZ_CHECK(value.find(cookie) != std::string::npos);
      if (!cookie.empty())
        FUZZ_CHECK(cookie.front() != ' ' && cookie.front() != '\t' && !Blank(cookie.back()));
      break;
    }
    case 4:
      if (web::IsLoopbackHost(value)) {
        std::string h = AsciiLower(value);
        if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
        in_addr a{};
        const bool v4 = inet_pton(AF_INET, h.c_str(), &a) == 1 && h.starts_with("127.");
        FUZZ_CHECK(v4 || h == "localhost" || h == "::1");
      }
      break;
  }
  return 0;
}
