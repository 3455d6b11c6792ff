#include "backend/azure/azure_backend.h"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "backend/azure/azure_error.h"
#include "backend/azure/blob_list.h"
#include "backend/azure/signing.h"
#include "base/time_util.h"

namespace cairn::backend::azure {

namespace {

constexpr std::string_view kApiVersion = "2023-11-03";
constexpr std::string_view kLeaseSuffix = ".lease";
constexpr uint64_t kRangeMd5Max = 4ull << 20;  // the service hashes ranges up to 4 MiB

std::string RandomHex(size_t bytes) {
  std::vector<uint8_t> buf(bytes);
  size_t done = 0;
  while (done < bytes) {
    ssize_t n = ::getrandom(buf.data() + done, bytes - done, 0);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  if (done < bytes) {
    // No entropy source: names and lease ids only need to differ.
    uint64_t v = static_cast<uint64_t>(NowNs()) ^ (static_cast<uint64_t>(::getpid()) << 32);
    for (size_t i = done; i < bytes; ++i) buf[i] = static_cast<uint8_t>(v >> (8 * (i % 8)));
  }
  return HexEncode(buf);
}

std::string NewUuid() {
  std::string h = RandomHex(16);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-4" + h.substr(13, 3) + "-a" + h.substr(17, 3) +
         "-" + h.substr(20, 12);
}

std::string Quote(const std::string& etag) { return "\"" + etag + "\""; }

bool ValidObjectName(const ObjectName& name) {
  if (name.type == ObjectType::kConfig) return true;
  const std::string& n = name.name;
  if (n.empty() || n.size() > 255 || n.front() == '.' || n.find('/') != std::string::npos ||
      n.find('\0') != std::string::npos) {
    return false;
  }
  if (name.type == ObjectType::kPack && n.size() < 2) return false;
  if (name.type == ObjectType::kLock && n.ends_with(kLeaseSuffix)) return false;
  return true;
}

Status CheckName(const ObjectName& name) {
  if (ValidObjectName(name)) return Status::OK();
  return Status::InvalidArgument("invalid object name \"" + name.name + "\" for " +
                                 std::string(ObjectTypeDir(name.type)));
}

constexpr ObjectType kListedTypes[] = {ObjectType::kKey, ObjectType::kPack, ObjectType::kIndex,
                                       ObjectType::kVersions, ObjectType::kLock};

}  // namespace

bool ValidContainerName(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-') return false;
    if (c == '-' && (i == 0 || i + 1 == name.size() || name[i - 1] == '-')) return false;
  }
  return true;
}

Result<std::pair<std::string, std::string>> ParseAzureLocation(std::string_view location) {
  constexpr std::string_view kScheme = "azure://";
  if (!location.starts_with(kScheme)) {
    return Status::InvalidArgument("\"" + std::string(location) +
                                   "\" is not an azure://CONTAINER[/PREFIX] location");
  }
  std::string_view rest = location.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string container(rest.substr(0, slash));
  std::string prefix(slash == std::string_view::npos ? "" : rest.substr(slash + 1));
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (!ValidContainerName(container)) {
    return Status::InvalidArgument(
        "container name invalid in \"" + std::string(location) +
        "\": 3-63 lowercase letters, digits and dashes (a dash neither first, last, nor "
        "doubled)");
  }
  if (prefix.find("//") != std::string::npos || prefix.size() > 512) {
    return Status::InvalidArgument("the prefix in \"" + std::string(location) +
                                   "\" must not contain empty parts");
  }
  return std::make_pair(container, prefix);
}

// A blob lease. Release() gives it up; the destructor does once more, best
// effort, if that did not succeed.
class AzureLock final : public BackendLock {
 public:
  AzureLock(std::shared_ptr<AzureBackend> backend, std::string blob, std::string lease_id)
      : backend_(std::move(backend)), blob_(std::move(blob)), lease_id_(std::move(lease_id)) {}
  ~AzureLock() override {
    if (released_) return;
    (void)Release();
    // An unreleased lease expires on its own; this object forgets it.
    if (!released_) Forget();
  }

  Status Refresh() override {
    if (released_) return Status::Locked("the lease on " + blob_ + " was released");
    CAIRN_ASSIGN_OR_RETURN(
        AzureBackend::Answer a,
        backend_->Execute({"PUT",
                           blob_,
                           {{"comp", "lease"}},
                           {{"x-ms-lease-action", "renew"}, {"x-ms-lease-id", lease_id_}},
                           {}}));
    if (a.response.status == 200) return Status::OK();
    if (a.response.status == 409 || a.response.status == 412 || a.response.status == 404) {
      return Status::Locked("the lease on " + UrlForMessages(a.url) +
                            " was lost (it expired and someone else may hold it now)");
    }
    return backend_->Fail(a, "renew lease");
  }

  Status Release() override {
    if (released_) return Status::OK();
    CAIRN_ASSIGN_OR_RETURN(
        AzureBackend::Answer a,
        backend_->Execute({"PUT",
                           blob_,
                           {{"comp", "lease"}},
                           {{"x-ms-lease-action", "release"}, {"x-ms-lease-id", lease_id_}},
                           {}}));
    long st = a.response.status;
    // 409/412: the lease is not ours (any more): released by an attempt
    // whose answer was lost, or expired. Either way we hold nothing.
    if (st == 200 || st == 409 || st == 412 || st == 404) {
      released_ = true;
      Forget();
      return Status::OK();
    }
    return backend_->Fail(a, "release lease");
  }

 private:
  // From now on a TryLock of this name asks the service again.
  void Forget() {
    MutexLock lock(backend_->lease_mu_);
    backend_->held_leases_.erase(blob_);
  }

  std::shared_ptr<AzureBackend> backend_;
  std::string blob_;
  std::string lease_id_;
  bool released_ = false;  // the owner's thread only (a BackendLock is not shared)
};

AzureBackend::AzureBackend(AzureConnection connection, std::string container, std::string prefix,
                           const AzureOptions& options)
    : connection_(std::move(connection)),
      container_(std::move(container)),
      prefix_(std::move(prefix)),
      options_(options),
      http_(options.http) {
  blob_base_ = prefix_.empty() ? "" : prefix_ + "/";
  const std::string& ep = connection_.blob_endpoint;
  size_t scheme_end = ep.find("://");
  size_t path_start = ep.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  origin_ = ep.substr(0, path_start);
  path_prefix_ = path_start == std::string::npos ? "" : ep.substr(path_start);
}

Result<std::shared_ptr<AzureBackend>> AzureBackend::Open(AzureConnection connection,
                                                         std::string container, std::string prefix,
                                                         AzureOptions options) {
  if (!ValidContainerName(container)) {
    return Status::InvalidArgument("container name invalid (\"" + container +
                                   "\"): 3-63 lowercase letters, digits and dashes (a dash "
                                   "neither first, last, nor doubled)");
  }
  if (connection.blob_endpoint.empty() ||
      (!connection.UsesSas() && connection.account_key.empty())) {
    return Status::InvalidArgument("the Azure connection has no endpoint or credentials");
  }
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (options.single_put_max == 0 || options.single_put_max > kMaxPutBlobBytes) {
    options.single_put_max = kMaxPutBlobBytes;
  }
  options.block_size = std::clamp<uint64_t>(options.block_size, 1, kMaxBlockBytes);
  options.block_parallelism = std::clamp(options.block_parallelism, 1, 64);
  options.pack_uploads = std::clamp(options.pack_uploads, 1, 16);
  options.list_page_size = std::clamp(options.list_page_size, 1, 5000);
  const std::string& tier = options.pack_access_tier;
  if (!tier.empty() && tier != "Hot" && tier != "Cool" && tier != "Cold") {
    return Status::InvalidArgument("access tier \"" + tier + "\" is not Hot, Cool or Cold");
  }
  return std::shared_ptr<AzureBackend>(
      new AzureBackend(std::move(connection), std::move(container), std::move(prefix), options));
}

std::string AzureBackend::Location() const {
  return "azure://" + container_ + (prefix_.empty() ? "" : "/" + prefix_);
}

std::string AzureBackend::BlobName(const ObjectName& name) const {
  return blob_base_ + name.Path();
}

std::string AzureBackend::Describe(const ObjectName& name) const {
  return Location() + "/" + name.Path();
}

Result<AzureBackend::Answer> AzureBackend::Execute(const Call& call) {
  std::string path = path_prefix_ + "/" + container_;
  if (!call.blob.empty()) path += "/" + PercentEncode(call.blob, /*keep_slash=*/true);
  std::string query;
  for (const auto& [n, v] : call.query) {
    query += query.empty() ? "?" : "&";
    query += PercentEncode(n, false);
    query += '=';
    query += PercentEncode(v, false);
  }
  if (connection_.UsesSas()) {
    query += query.empty() ? "?" : "&";
    query += connection_.sas;
  }
  HttpRequest req;
  req.method = call.method;
  req.url = origin_ + path + query;
  req.body = call.body;
  req.headers = call.headers;
  req.headers.emplace_back("x-ms-version", std::string(kApiVersion));
  req.headers.emplace_back("x-ms-date", HttpDate(std::time(nullptr)));
  if (!connection_.UsesSas()) {
    SignableRequest s{call.method, path, call.query, req.headers, call.body.size()};
    req.headers.emplace_back(
        "Authorization", SharedKeyAuthorization(connection_.account_name, connection_.account_key,
                                                StringToSign(connection_.account_name, s)));
  }
  CAIRN_ASSIGN_OR_RETURN(HttpResponse resp, http_.Send(req));
  return Answer{std::move(resp), std::move(req.url)};
}

Status AzureBackend::Fail(const Answer& answer, std::string_view what) const {
  return ErrorFromResponse(answer.response, what, answer.url);
}

Status AzureBackend::Create() {
  CAIRN_ASSIGN_OR_RETURN(Answer a, Execute({"PUT", "", {{"restype", "container"}}, {}, {}}));
  long st = a.response.status;
  if (st == 201) return Status::OK();
  if (st == 409 && ServiceErrorCode(a.response) == "ContainerAlreadyExists") return Status::OK();
  if (st == 403 && connection_.UsesSas()) {
    // A container SAS cannot create containers; fine when it already exists.
    CAIRN_ASSIGN_OR_RETURN(
        Answer probe, Execute({"GET",
                               "",
                               {{"comp", "list"}, {"maxresults", "1"}, {"restype", "container"}},
                               {},
                               {}}));
    if (probe.response.status == 200) return Status::OK();
  }
  return Fail(a, "create container " + container_);
}

Status AzureBackend::ListBlobs(const std::string& prefix,
                               const std::function<Status(const std::string&, ObjectInfo)>& fn) {
  std::string marker;
  while (true) {
    HeaderList query = {{"comp", "list"},
                        {"restype", "container"},
                        {"maxresults", std::to_string(options_.list_page_size)}};
    if (!prefix.empty()) query.emplace_back("prefix", prefix);
    if (!marker.empty()) query.emplace_back("marker", marker);
    CAIRN_ASSIGN_OR_RETURN(Answer a, Execute({"GET", "", query, {}, {}}));
    if (a.response.status != 200) return Fail(a, "list " + Location());
    CAIRN_RETURN_IF_ERROR(ParseBlobListPage(AsString(a.response.body), Location(), fn, &marker));
    if (marker.empty()) return Status::OK();
  }
}

Result<bool> AzureBackend::HasAnyObject() {
  bool found = false;
  const std::string lock_dir = blob_base_ + std::string(ObjectTypeDir(ObjectType::kLock)) + "/";
  Status s = ListBlobs(blob_base_, [&](const std::string& name, const ObjectInfo&) {
    if (name.starts_with(lock_dir) && name.ends_with(kLeaseSuffix)) return Status::OK();
    found = true;
    return Status::Cancelled("found one");
  });
  if (found) return true;
  if (s.IsNotFound()) return false;  // no container yet
  if (!s.ok()) return s;
  return false;
}

void AzureBackend::AddTier(const ObjectName& name, HeaderList& headers) const {
  if (name.type == ObjectType::kPack && !options_.pack_access_tier.empty()) {
    headers.emplace_back("x-ms-access-tier", options_.pack_access_tier);
  }
}

Status AzureBackend::PutBlocks(const ObjectName& name, const std::string& blob, ByteView data) {
  uint64_t block = std::max<uint64_t>(options_.block_size,
                                      (data.size() + kMaxBlocksPerBlob - 1) / kMaxBlocksPerBlob);
  if (block > kMaxBlockBytes) {
    return Status::InvalidArgument(Describe(name) + " is too large for a block blob (" +
                                   std::to_string(data.size()) + " bytes)");
  }
  size_t count = static_cast<size_t>((data.size() + block - 1) / block);
  // Ids of one length within the blob; a random part keeps concurrent
  // uploads of the same name from sharing blocks.
  std::string tag = RandomHex(8);
  std::vector<std::string> ids(count);
  for (size_t i = 0; i < count; ++i) {
    std::string num = std::to_string(i);
    num.insert(0, 6 - std::min<size_t>(6, num.size()), '0');  // count <= 50000
    ids[i] = Base64Encode(AsBytes(tag + "-" + num));
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  Status first_error;
  auto worker = [&] {
    while (!failed.load()) {
      size_t i = next.fetch_add(1);
      if (i >= count) return;
      ByteView part = data.subspan(i * block, std::min<uint64_t>(block, data.size() - i * block));
      Result<Answer> a = Execute({"PUT",
                                  blob,
                                  {{"comp", "block"}, {"blockid", ids[i]}},
                                  {{"Content-MD5", Md5Base64(part)}},
                                  part});
      Status s = !a.ok() ? a.error()
                 : a->response.status == 201
                     ? Status::OK()
                     : Fail(*a, "upload block " + std::to_string(i) + " of " + Describe(name));
      if (!s.ok()) {
        std::lock_guard lock(mu);
        if (first_error.ok()) first_error = s;
        failed = true;
      }
    }
  };
  {
    std::vector<std::jthread> threads;
    int n = std::min<int>(options_.block_parallelism, static_cast<int>(count));
    for (int t = 1; t < n; ++t) threads.emplace_back(worker);
    worker();
  }
  CAIRN_RETURN_IF_ERROR(first_error);

  std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
  for (const std::string& id : ids) xml += "<Latest>" + id + "</Latest>";
  xml += "</BlockList>";
  HeaderList headers = {{"Content-MD5", Md5Base64(AsBytes(xml))},
                        {"Content-Type", "application/xml"},
                        {"x-ms-blob-content-md5", Md5Base64(data)},
                        {"If-None-Match", "*"}};
  AddTier(name, headers);
  CAIRN_ASSIGN_OR_RETURN(Answer a,
                         Execute({"PUT", blob, {{"comp", "blocklist"}}, headers, AsBytes(xml)}));
  long st = a.response.status;
  if (st == 201) return Status::OK();
  if (st == 409) return Status::AlreadyExists(Describe(name) + " already exists");
  if (st == 400 && ServiceErrorCode(a.response) == "InvalidBlockList") {
    // A concurrent upload of the same name committed first and its commit
    // dropped our uncommitted blocks.
    if (Stat(name).ok()) return Status::AlreadyExists(Describe(name) + " already exists");
  }
  return Fail(a, "commit blocks of " + Describe(name));
}

Status AzureBackend::Save(const ObjectName& name, ByteView data) {
  CAIRN_RETURN_IF_ERROR(CheckName(name));
  std::string blob = BlobName(name);
  if (data.size() > options_.single_put_max) return PutBlocks(name, blob, data);
  HeaderList headers = {
      {"x-ms-blob-type", "BlockBlob"}, {"Content-MD5", Md5Base64(data)}, {"If-None-Match", "*"}};
  AddTier(name, headers);
  CAIRN_ASSIGN_OR_RETURN(Answer a, Execute({"PUT", blob, {}, headers, data}));
  long st = a.response.status;
  if (st == 201) return Status::OK();
  if (st == 409 && ServiceErrorCode(a.response) == "BlobAlreadyExists") {
    return Status::AlreadyExists(Describe(name) + " already exists");
  }
  return Fail(a, "save " + Describe(name));
}

Result<std::string> AzureBackend::Replace(const ObjectName& name, ByteView data,
                                          const std::string& if_match) {
  CAIRN_RETURN_IF_ERROR(CheckName(name));
  if (data.size() > options_.single_put_max) {
    return Status::InvalidArgument("Replace is for small objects; " + Describe(name) + " has " +
                                   std::to_string(data.size()) + " bytes");
  }
  HeaderList headers = {{"x-ms-blob-type", "BlockBlob"}, {"Content-MD5", Md5Base64(data)}};
  if (if_match.empty()) {
    headers.emplace_back("If-None-Match", "*");
  } else {
    headers.emplace_back("If-Match", Quote(if_match));
  }
  CAIRN_ASSIGN_OR_RETURN(Answer a, Execute({"PUT", BlobName(name), {}, headers, data}));
  long st = a.response.status;
  if (st == 201) return Unquote(a.response.Header("etag"));
  if (st == 409 || st == 412 ||
      (st == 404 && ServiceErrorCode(a.response) != "ContainerNotFound")) {
    return Status::PreconditionFailed(
        Describe(name) +
        (if_match.empty() ? " already exists" : " was changed or removed by someone else"));
  }
  return Fail(a, "replace " + Describe(name));
}

Result<Bytes> AzureBackend::Load(const ObjectName& name, uint64_t offset, uint64_t length) {
  CAIRN_RETURN_IF_ERROR(CheckName(name));
  Call call{"GET", BlobName(name), {}, {}, {}};
  bool whole = offset == 0 && length == 0;
  bool range_md5 = false;
  if (!whole) {
    std::string range = "bytes=" + std::to_string(offset) + "-";
    if (length > 0) range += std::to_string(offset + length - 1);
    call.headers.emplace_back("x-ms-range", range);
    if (length > 0 && length <= kRangeMd5Max) {
      call.headers.emplace_back("x-ms-range-get-content-md5", "true");
      range_md5 = true;
    }
  }
  CAIRN_ASSIGN_OR_RETURN(Answer a, Execute(call));
  long st = a.response.status;
  auto past_end = [&](uint64_t size) {
    return Status::Corruption("range " + std::to_string(offset) + "+" + std::to_string(length) +
                              " is past the end of " + Describe(name) + " (" +
                              std::to_string(size) + " bytes)");
  };
  if (st == 416) {
    // The empty range at the very end is not past it.
    CAIRN_ASSIGN_OR_RETURN(ObjectInfo info, Stat(name));
    if (length == 0 && offset == info.size) return Bytes{};
    return past_end(info.size);
  }
  if (st != 200 && st != 206) return Fail(a, "load " + Describe(name));
  Bytes body = std::move(a.response.body);
  std::string declared = a.response.Header("content-length");
  if (!declared.empty() && std::strtoull(declared.c_str(), nullptr, 10) != body.size()) {
    return Status::Unavailable("the download of " + Describe(name) + " was cut short (" +
                               std::to_string(body.size()) + " of " + declared + " bytes)");
  }
  std::string md5 = a.response.Header("content-md5");
  if ((whole || range_md5) && !md5.empty() && md5 != Md5Base64(body)) {
    return Status(StatusCode::kCorruption,
                  "the download of " + Describe(name) + " does not match its Content-MD5", true);
  }
  if (st == 200 && !whole) {
    // The service ignored the range: cut it out here.
    if (offset > body.size() || (length > 0 && length > body.size() - offset)) {
      return past_end(body.size());
    }
    uint64_t n = length == 0 ? body.size() - offset : length;
    return Bytes(body.begin() + static_cast<ptrdiff_t>(offset),
                 body.begin() + static_cast<ptrdiff_t>(offset + n));
  }
  if (length > 0 && body.size() != length) {
    std::string total = a.response.Header("content-range");
    size_t slash = total.rfind('/');
    uint64_t size = slash == std::string::npos
                        ? offset + body.size()
                        : std::strtoull(total.c_str() + slash + 1, nullptr, 10);
    return past_end(size);
  }
  return body;
}

Result<ObjectInfo> AzureBackend::Stat(const ObjectName& name) {
  CAIRN_RETURN_IF_ERROR(CheckName(name));
  CAIRN_ASSIGN_OR_RETURN(Answer a, Execute({"HEAD", BlobName(name), {}, {}, {}}));
  if (a.response.status != 200) return Fail(a, "stat " + Describe(name));
  ObjectInfo info;
  info.name = name;
  if (name.type == ObjectType::kConfig) info.name.name = "config";
  info.size = std::strtoull(a.response.Header("content-length").c_str(), nullptr, 10);
  info.etag = Unquote(a.response.Header("etag"));
  info.content_md5 = a.response.Header("content-md5");
  info.mtime = MtimeFromHttpDate(a.response.Header("last-modified"));
  info.access_tier = a.response.Header("x-ms-access-tier");
  return info;
}

Status AzureBackend::List(ObjectType type, const std::function<Status(const ObjectInfo&)>& fn) {
  if (type == ObjectType::kConfig) {
    Result<ObjectInfo> info = Stat(ObjectName{ObjectType::kConfig, "config"});
    if (info.ok()) return fn(*info);
    // A missing container is not an empty repository.
    if (info.error().IsNotFound() &&
        info.error().message().find("ContainerNotFound") == std::string::npos) {
      return Status::OK();
    }
    return info.error();
  }
  const std::string dir = blob_base_ + std::string(ObjectTypeDir(type)) + "/";
  return ListBlobs(dir, [&](const std::string& blob, ObjectInfo info) {
    std::string_view rest = std::string_view(blob).substr(dir.size());
    std::string id;
    if (type == ObjectType::kPack) {
      // "xx/<id>" where the id starts with xx; anything else is unreachable by
      // Load.
      if (rest.size() < 4 || rest[2] != '/') return Status::OK();
      id = std::string(rest.substr(3));
      if (!id.starts_with(rest.substr(0, 2))) return Status::OK();
    } else {
      id = std::string(rest);
    }
    ObjectName name{type, id};
    if (!ValidObjectName(name)) return Status::OK();  // lease blobs, foreign names
    info.name = std::move(name);
    return fn(info);
  });
}

Status AzureBackend::Remove(const ObjectName& name) {
  CAIRN_RETURN_IF_ERROR(CheckName(name));
  CAIRN_ASSIGN_OR_RETURN(Answer a, Execute({"DELETE", BlobName(name), {}, {}, {}}));
  long st = a.response.status;
  if (st == 202 || st == 200) return Status::OK();
  if (st == 404 && ServiceErrorCode(a.response) != "ContainerNotFound") return Status::OK();
  return Fail(a, "remove " + Describe(name));
}

Result<std::unique_ptr<BackendLock>> AzureBackend::TryLock(std::string_view lock_name,
                                                           std::chrono::seconds ttl) {
  if (lock_name.empty() || lock_name.size() > 200 || lock_name.front() == '.' ||
      lock_name.find('/') != std::string_view::npos ||
      lock_name.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("invalid lock name \"" + std::string(lock_name) + "\"");
  }
  const std::string blob = blob_base_ + std::string(ObjectTypeDir(ObjectType::kLock)) + "/" +
                           std::string(lock_name) + std::string(kLeaseSuffix);
  const long duration = std::clamp<long>(static_cast<long>(ttl.count()), 15, 60);
  // One lease id per lock blob for the life of this backend object: when an
  // acquire was applied but its answer lost, the repeated acquire proposes
  // the same id, which the service grants again (a lease is re-acquirable by
  // its own id) instead of reporting our own lease as someone else's.
  std::string lease_id;
  {
    MutexLock lock(lease_mu_);
    if (held_leases_.contains(blob)) {
      return Status::Locked("the repository lock \"" + std::string(lock_name) + "\" in " +
                            Location() + " is already held by this process");
    }
    auto [it, fresh] = lease_ids_.try_emplace(blob);
    if (fresh) it->second = NewUuid();
    lease_id = it->second;
  }
  for (int attempt = 0;; ++attempt) {
    CAIRN_ASSIGN_OR_RETURN(Answer a, Execute({"PUT",
                                              blob,
                                              {{"comp", "lease"}},
                                              {{"x-ms-lease-action", "acquire"},
                                               {"x-ms-lease-duration", std::to_string(duration)},
                                               {"x-ms-proposed-lease-id", lease_id}},
                                              {}}));
    long st = a.response.status;
    if (st == 201 || st == 200) break;
    std::string code = ServiceErrorCode(a.response);
    if (st == 404 && code == "BlobNotFound" && attempt < 3) {
      // The lease blob is made on first use; a concurrent maker is fine.
      // It stays empty: the storage learns nothing about who locks.
      CAIRN_ASSIGN_OR_RETURN(Answer made, Execute({"PUT",
                                                   blob,
                                                   {},
                                                   {{"x-ms-blob-type", "BlockBlob"},
                                                    {"Content-MD5", Md5Base64({})},
                                                    {"If-None-Match", "*"}},
                                                   {}}));
      if (made.response.status != 201 && made.response.status != 409) {
        return Fail(made, "create lock blob");
      }
      continue;
    }
    if (st == 409) {
      // Held only for the moment it takes to read and write the repository's
      // own (encrypted) lock objects, which name their holders.
      return Status::Locked("the repository lock \"" + std::string(lock_name) + "\" in " +
                            Location() +
                            " is held by another process taking or releasing its repository "
                            "lock; a holder that died loses it within " +
                            std::to_string(duration) + " s");
    }
    return Fail(a, "lock " + Location());
  }
  {
    MutexLock lock(lease_mu_);
    held_leases_.insert(blob);
  }
  return std::unique_ptr<BackendLock>(new AzureLock(shared_from_this(), blob, lease_id));
}

}  // namespace cairn::backend::azure
