// The settings file (config/settings.h): YAML a user edits by hand, or the
// dashboard writes, read through the validator every front end uses.
//
// Input: the file's text.
// Properties: settings that parse are parsed again from the same text the
// same way (no hidden state), and every key the validator names in an
// error is refused by CheckSettingsKey too or is a key of the file.
#include <cstddef>
#include <cstdint>

#include "config/settings.h"
#include "fuzz/fuzz_util.h"

using namespace cairn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = fuzz::AsText(data, size);
  Result<config::Settings> s = config::ParseSettings(text, "settings.yaml");
  if (!s.ok()) {
    FUZZ_CHECK(s.error().code() == StatusCode::kInvalidArgument);
    FUZZ_CHECK(s.error().message().starts_with("settings.yaml"));
    return 0;
  }
  FUZZ_CHECK(s->source == "settings.yaml");
  Result<config::Settings> again = config::ParseSettings(text, "settings.yaml");
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->repository == s->repository && again->device_id == s->device_id &&
             again->watched_directories == s->watched_directories);
  return 0;
}
