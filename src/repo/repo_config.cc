#include "repo/repo_config.h"

#include <nlohmann/json.hpp>

#include "crypto/crypto.h"
#include "repo/json_number.h"

namespace cairn::repo {

using json = nlohmann::json;

Bytes EncodeRepoConfig(const RepoConfig& c) {
  json j = {
      {"format", "cairn-repository"},
      {"version", c.format_major},
      {"minor_version", c.format_minor},
      {"id", c.repo_id.Hex()},
      {"created", FormatRfc3339(c.created)},
      {"chunker",
       {{"algorithm", "fastcdc-gear-v1"},
        {"min_size", c.chunker.min_size},
        {"avg_size", c.chunker.avg_size},
        {"max_size", c.chunker.max_size},
        {"seed", HexEncode(c.chunker.seed)}}},
      {"pack_size", c.pack_size},
      {"aead", crypto::kAeadName},
      {"chunk_id", "hmac-sha256-of-sha256"},
  };
  std::string s = j.dump();
  return Bytes(s.begin(), s.end());
}

Result<RepoConfig> DecodeRepoConfig(ByteView text) {
  try {
    json j = json::parse(AsString(text));
    if (j.at("format").get<std::string>() != "cairn-repository")
      return Status::Corruption("config object is not a cairn repository config");
    RepoConfig c;
    const std::optional<int> major = WholeNumber<int>(j.at("version"));
    const std::optional<int> minor =
        j.contains("minor_version") ? WholeNumber<int>(j["minor_version"]) : std::optional<int>(0);
    if (!major || !minor)
      return Status::Corruption("config object has a version that is not a whole number");
    c.format_major = *major;
    c.format_minor = *minor;
    if (c.format_major > kFormatMajor)
      return Status::Unsupported("the repository uses format version " +
                                 std::to_string(c.format_major) + ", newer than this cairn (" +
                                 std::to_string(kFormatMajor) + "): upgrade cairn to use it");
    if (c.format_major < kOldestFormatMajor)
      return Status::Unsupported(
          "the repository uses format version " + std::to_string(c.format_major) +
          ", written by a pre-release cairn whose chunk IDs this cairn does not compute: restore "
          "what you need with the cairn that wrote it, then create a new repository (cairn init)");
    if (j.at("chunk_id").get<std::string>() != "hmac-sha256-of-sha256")
      return Status::Unsupported("unknown chunk ID scheme " + j.at("chunk_id").get<std::string>());
    // Every object's cipher is the one the format fixes; a config naming
    // another was written by something this cairn cannot read correctly.
    if (const std::string aead = j.at("aead").get<std::string>(); aead != crypto::kAeadName)
      return Status::Unsupported("the repository uses the cipher '" + aead +
                                 "', which this cairn does not support (it uses " +
                                 std::string(crypto::kAeadName) + ")");
    Result<Id> id = Id::FromHex(j.at("id").get<std::string>());
    if (!id.ok()) return Status::Corruption("config object has a malformed repository id");
    c.repo_id = *id;
    auto created = ParseTime(j.at("created").get<std::string>());
    c.created = created.ok() ? *created : 0;
    const json& ch = j.at("chunker");
    if (ch.at("algorithm").get<std::string>() != "fastcdc-gear-v1")
      return Status::Unsupported("unknown chunker " + ch.at("algorithm").get<std::string>());
    const std::optional<uint32_t> min_size = WholeNumber<uint32_t>(ch.at("min_size"));
    const std::optional<uint32_t> avg_size = WholeNumber<uint32_t>(ch.at("avg_size"));
    const std::optional<uint32_t> max_size = WholeNumber<uint32_t>(ch.at("max_size"));
    const std::optional<uint64_t> pack_size = WholeNumber<uint64_t>(j.at("pack_size"));
    if (!min_size || !avg_size || !max_size || !pack_size)
      return Status::Corruption("config object has sizes that are not whole numbers in range");
    c.chunker.min_size = *min_size;
    c.chunker.avg_size = *avg_size;
    c.chunker.max_size = *max_size;
    Result<Bytes> seed = HexDecode(ch.at("seed").get<std::string>());
    if (!seed.ok() || seed->size() != 32)
      return Status::Corruption("chunker seed is not 32 bytes of hex");
    std::copy(seed->begin(), seed->end(), c.chunker.seed.begin());
    if (Status st = c.chunker.Validate(); !st.ok())
      return Status::Corruption("config object has chunker parameters cairn refuses: " +
                                st.message());
    c.pack_size = *pack_size;
    return c;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("config object is malformed: ") + e.what());
  }
}

}  // namespace cairn::repo
