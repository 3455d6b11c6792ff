// The Session's parts that only `cairn setup` uses: probing a location
// before anything is written, the write check of an existing repository,
// and undoing an init when setup is interrupted.
#include <filesystem>

#include "crypto/crypto.h"
#include "engine/session.h"
#include "repo/repo_lock.h"
#include "repo/repository.h"

namespace cairn::engine {

namespace {

// An error of the location, with what to do about it.
Status Explain(const std::string& location, const std::string& action, const Status& st) {
  const bool azure = location.rfind("azure://", 0) == 0;
  std::string advice;
  switch (st.code()) {
    case StatusCode::kPermissionDenied:
      advice = azure ? "the storage account refused the credentials: check the AccountKey or "
                       "SharedAccessSignature in AZURE_STORAGE_CONNECTION_STRING (a SAS needs "
                       "read, add, create, write, delete and list permissions)"
                     : "choose a folder you may write to, or fix the permissions of this one";
      break;
    case StatusCode::kUnavailable:
    case StatusCode::kIOError:
      advice = azure ? "check the network and the endpoint in AZURE_STORAGE_CONNECTION_STRING"
                     : "check that the disk is mounted and the path is right";
      break;
    case StatusCode::kNoSpace:
      advice = "free some space or choose another place";
      break;
    default:
      advice = azure ? "check the location and AZURE_STORAGE_CONNECTION_STRING" : "check the path";
  }
  return Status(st.code(),
                "cannot " + action + " " + location + ": " + st.message() + " (" + advice + ")");
}

}  // namespace

Result<Session::LocationState> Session::ProbeLocation() {
  const std::string& location = cfg_.location;
  LocationState state;
  const bool local = location.find("://") == std::string::npos;
  if (local) {
    std::error_code ec;
    auto st = std::filesystem::status(location, ec);
    if (std::filesystem::exists(st) && !std::filesystem::is_directory(st))
      return Status::InvalidArgument(location + " is a file, not a folder: choose a folder");
    state.created_folder = !std::filesystem::exists(st);
  }
  auto be = backend::OpenBackend(location, cfg_.backend_options);
  if (!be.ok()) return Explain(location, "use", be.error());
  if (options_.wrap_backend) *be = options_.wrap_backend(std::move(*be));
  auto config = (*be)->Stat(backend::ObjectName{backend::ObjectType::kConfig, "config"});
  if (config.ok()) {
    state.has_repository = true;
    return state;
  }
  if (!config.error().IsNotFound()) return Explain(location, "reach", config.error());
  auto has = (*be)->HasAnyObject();
  if (!has.ok()) return Explain(location, "read", has.error());
  if (*has) {
    state.has_other_data = true;
    return state;
  }
  // An empty place: prove that it can be written before anything else is.
  if (Status st = (*be)->Create(); !st.ok()) {
    std::error_code ec;
    if (state.created_folder) std::filesystem::remove_all(location, ec);
    return Explain(location, "create", st);
  }
  backend::ObjectName probe{backend::ObjectType::kLock, crypto::RandomId().Hex()};
  Status saved = (*be)->Save(probe, AsBytes(std::string("cairn setup: write test\n")));
  Status removed = saved.ok() ? (*be)->Remove(probe) : Status::OK();
  if (!saved.ok() || !removed.ok()) {
    std::error_code ec;
    if (state.created_folder) std::filesystem::remove_all(location, ec);
    return Explain(location, "write to", saved.ok() ? removed : saved);
  }
  return state;
}

Status Session::CheckWritable(const JobContext& /*job*/) {
  auto lock = Lock(false, "setup");
  if (!lock.ok()) return Explain(cfg_.location, "write to", lock.error());
  Status health = (*lock)->health();
  lock->reset();  // removes the lock object it wrote
  return health;
}

Status Session::DiscardCreatedRepository() {
  std::lock_guard lock(open_mu_);
  if (!created_by_init_ || !repo_)
    return Status::PreconditionFailed("this session did not create the repository at " +
                                      cfg_.location);
  std::shared_ptr<backend::Backend> be = repo_->shared_backend();
  repo_.reset();
  created_by_init_ = false;
  std::error_code ec;
  std::filesystem::remove(cfg_.KeySlotHintPath(), ec);
  Status first;
  for (auto type :
       {backend::ObjectType::kLock, backend::ObjectType::kVersions, backend::ObjectType::kIndex,
        backend::ObjectType::kPack, backend::ObjectType::kKey, backend::ObjectType::kConfig}) {
    std::vector<backend::ObjectName> names;
    Status listed = be->List(type, [&](const backend::ObjectInfo& info) {
      names.push_back(info.name);
      return Status::OK();
    });
    if (!listed.ok() && first.ok()) first = listed;
    for (const auto& n : names)
      if (Status st = be->Remove(n); !st.ok() && first.ok()) first = st;
  }
  return first;
}

}  // namespace cairn::engine
