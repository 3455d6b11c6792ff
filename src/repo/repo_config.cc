#include "repo/repo_config.h"

#include <nlohmann/json.hpp>

#include "crypto/crypto.h"

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
    c.format_major = j.at("version").get<int>();
    c.format_minor = j.value("minor_version", 0);
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
    CAIRN_ASSIGN_OR_RETURN(c.repo_id, Id::FromHex(j.at("id").get<std::string>()));
    auto created = ParseTime(j.at("created").get<std::string>());
    c.created = created.ok() ? *created : 0;
    const json& ch = j.at("chunker");
    if (ch.at("algorithm").get<std::string>() != "fastcdc-gear-v1")
      return Status::Unsupported("unknown chunker " + ch.at("algorithm").get<std::string>());
    c.chunker.min_size = ch.at("min_size").get<uint32_t>();
    c.chunker.avg_size = ch.at("avg_size").get<uint32_t>();
    c.chunker.max_size = ch.at("max_size").get<uint32_t>();
    CAIRN_ASSIGN_OR_RETURN(Bytes seed, HexDecode(ch.at("seed").get<std::string>()));
    if (seed.size() != 32) return Status::Corruption("chunker seed has the wrong size");
    std::copy(seed.begin(), seed.end(), c.chunker.seed.begin());
    CAIRN_RETURN_IF_ERROR(c.chunker.Validate());
    c.pack_size = j.at("pack_size").get<uint64_t>();
    return c;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("config object is malformed: ") + e.what());
  }
}

}  // namespace cairn::repo
