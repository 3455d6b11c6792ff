// Azure connection strings (backend/azure/connection_string.h), as a user
// pastes them into the settings or the environment.
//
// Input: a mode byte, then the text of a connection string. The target
// adds a secret of its own to it (an AccountKey or a SharedAccessSignature,
// before or after the input's parts, by the mode byte).
// Properties: no error message repeats the secret, or any part of it; a
// string that parses has an http(s) endpoint without a trailing '/' and a
// key or a SAS.
#include <cstddef>
#include <cstdint>

#include "backend/azure/connection_string.h"
#include "fuzz/fuzz_util.h"

using namespace cairn;

namespace {

// Base64 of 30 bytes, unlike any text of the parser's messages.
constexpr std::string_view kKey = "q7Xv9+Zk2/Wf0Rb8Ue1Lm4Tn6Ys3Pa5Hj7Qc9Vd2";
constexpr std::string_view kSas = "sv=2023-11-03&sig=q7Xv9%2BZk2%2FWf0Rb8Ue1Lm4Tn6Ys3";

bool HoldsPieceOf(std::string_view text, std::string_view secret) {
  for (size_t i = 0; i + 6 <= secret.size(); ++i)
    if (text.find(secret.substr(i, 6)) != std::string_view::npos) return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const std::string input = fuzz::AsText(data + 1, size - 1);
  const bool sas = mode & 1;
  const std::string_view secret = sas ? kSas : kKey;
  const std::string part =
      std::string(sas ? "SharedAccessSignature=" : "AccountKey=") + std::string(secret);
  const std::string text = (mode & 2) ? part + ";" + input : input + ";" + part;
  Result<backend::azure::AzureConnection> conn = backend::azure::ParseConnectionString(text);
  if (!conn.ok()) {
    FUZZ_CHECK(conn.error().code() == StatusCode::kInvalidArgument);
    // The input may carry pieces of the secret itself (then the message may
    // rightly repeat them); otherwise no piece of it may appear.
    if (!HoldsPieceOf(input, secret)) FUZZ_CHECK(!HoldsPieceOf(conn.error().message(), secret));
    return 0;
  }
  const std::string& ep = conn->blob_endpoint;
  const std::string scheme = AsciiLower(ep.substr(0, 8));
  FUZZ_CHECK(scheme.starts_with("http://") || scheme == "https://");
  FUZZ_CHECK(!ep.empty() && ep.back() != '/');
  FUZZ_CHECK(conn->UsesSas() || !conn->account_key.empty());
  return 0;
}
