#include "repo/generation.h"

#include <nlohmann/json.hpp>

#include "crypto/crypto.h"
#include "repo/envelope.h"
#include "repo/json_number.h"
#include "repo/repository.h"

namespace cairn::repo {

using json = nlohmann::json;
using backend::ObjectName;
using backend::ObjectType;

namespace {

const ObjectName& GenerationName() {
  static const ObjectName name{ObjectType::kLock, kGenerationObjectName};
  return name;
}

Bytes Seal(Repository& repo, const Generation& g) {
  Bytes sealed;
  SealEnvelope(repo.keys().meta_key, "generation", kGenerationObjectName,
               compress::Algorithm::kNone, 0, EncodeGeneration(g), sealed);
  return sealed;
}

}  // namespace

Bytes EncodeGeneration(const Generation& g) {
  json j = {{"generation", g.number},
            {"device", g.device},
            {"operation", g.operation},
            {"time", g.time},
            {"nonce", g.nonce.Hex()}};
  std::string s = j.dump();
  return Bytes(s.begin(), s.end());
}

Result<Generation> DecodeGeneration(ByteView json_text) {
  try {
    json j = json::parse(AsString(json_text));
    Generation g;
    const std::optional<uint64_t> number = WholeNumber<uint64_t>(j.at("generation"));
    const std::optional<int64_t> time =
        j.contains("time") ? WholeNumber<int64_t>(j["time"]) : std::optional<int64_t>(0);
    if (!number || !time)
      return Status::Corruption("the repository generation has numbers that are not whole");
    g.number = *number;
    g.device = j.value("device", "");
    g.operation = j.value("operation", "");
    g.time = *time;
    if (j.contains("nonce")) {
      auto nonce = Id::FromHex(j["nonce"].get<std::string>());
      if (!nonce.ok()) return Status::Corruption("the repository generation has a bad nonce");
      g.nonce = *nonce;
    }
    return g;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("the repository generation is malformed: ") + e.what());
  }
}

Result<GenerationState> LoadGeneration(Repository& repo) {
  GenerationState st;
  auto sealed = repo.backend().Load(GenerationName(), 0, 0);
  if (!sealed.ok()) {
    if (sealed.error().IsNotFound()) return st;
    return sealed.error();
  }
  auto body = OpenEnvelope(repo.keys().meta_key, "generation", kGenerationObjectName, *sealed);
  if (!body.ok()) return body.error().WithContext("reading locks/generation");
  CAIRN_ASSIGN_OR_RETURN(st.generation, DecodeGeneration(*body));
  // The etag of what was read: Load then Stat could straddle a change, but
  // only an exclusive holder changes it, and that is the caller.
  CAIRN_ASSIGN_OR_RETURN(auto again, repo.backend().Stat(GenerationName()));
  st.etag = again.etag;
  return st;
}

Result<GenerationState> AdvanceGeneration(Repository& repo, const std::string& device,
                                          const std::string& operation) {
  CAIRN_ASSIGN_OR_RETURN(GenerationState cur, LoadGeneration(repo));
  GenerationState next;
  next.generation.number = cur.generation.number + 1;
  next.generation.device = device;
  next.generation.operation = operation;
  next.generation.time = NowNs();
  next.generation.nonce = crypto::RandomId();
  auto etag = repo.backend().Replace(GenerationName(), Seal(repo, next.generation), cur.etag);
  if (etag.ok()) {
    next.etag = *etag;
    return next;
  }
  if (etag.error().code() != StatusCode::kPreconditionFailed) return etag.error();
  // Either someone else wrote it (we do not hold the exclusive lock after
  // all), or a retry of our own write found it already done.
  CAIRN_ASSIGN_OR_RETURN(GenerationState now, LoadGeneration(repo));
  if (now.generation.nonce == next.generation.nonce) return now;
  return Status::PreconditionFailed(
      "the repository generation changed under an exclusive lock (someone else advanced it to " +
      std::to_string(now.generation.number) + "); the operation stops before deleting anything");
}

}  // namespace cairn::repo
