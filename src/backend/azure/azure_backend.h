// AzureBackend: a repository in an Azure Blob Storage container, spoken to
// with the Blob REST API (libcurl; Shared Key or SAS authorization).
//
// Layout: each object is the block blob "<prefix>/" + ObjectName::Path()
// (no "<prefix>/" when the prefix is empty). Lock leases live on
// "<prefix>/locks/<name>.lease" blobs, which are not objects: List and
// HasAnyObject skip them.
//
// How the contracts of backend.h are kept:
//  - Save: Put Blob with If-None-Match: * (409: AlreadyExists); objects over
//    `single_put_max` go up as Put Block (several in flight) + Put Block List
//    with If-None-Match: *. A blob appears whole at commit or not at all.
//  - Replace: Put Blob with If-Match: <etag> (or If-None-Match: * for "");
//    409/412 (and 404) are PreconditionFailed.
//  - Load: Get Blob, ranged with x-ms-range; a short or refused range is
//    Corruption.
//  - Packs get `pack_access_tier` (x-ms-access-tier) when set.
//  - Every upload carries Content-MD5 (the service rejects a mismatch);
//    whole downloads are checked against the stored MD5, ranges of up to
//    4 MiB against the MD5 the service computes for them.
//  - List and Stat report Last-Modified as mtime and the blob's AccessTier.
//  - TryLock: a blob lease of ttl clamped to 15..60 s on an empty lease
//    blob; Refresh renews it, Release (or destruction) releases it, a
//    release whose lease is no longer ours counts as done; a dead holder's lease
//    expires on its own. The proposed lease id is fixed per lock blob for the
//    life of the backend object, so a repeated acquire whose first answer
//    was lost gets our own lease back; a second TryLock of a lock this
//    object already holds is Locked.
//  - Errors are classified in azure_error.h; transport failures and
//    408/429/5xx are retryable. Messages never hold the key or a SAS.
//
// Thread-safety: every method may be called from many threads at once.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "backend/azure/connection_string.h"
#include "backend/azure/http_client.h"
#include "backend/backend.h"
#include "base/mutex.h"

namespace cairn::backend {
struct OpenOptions;
}

namespace cairn::backend::azure {

// API limits (current service versions).
inline constexpr uint64_t kMaxPutBlobBytes = 5000ull << 20;
inline constexpr uint64_t kMaxBlockBytes = 4000ull << 20;
inline constexpr uint64_t kMaxBlocksPerBlob = 50000;

struct AzureOptions {
  // Objects larger than this are uploaded in blocks (<= kMaxPutBlobBytes).
  uint64_t single_put_max = 64ull << 20;
  // The block size for block uploads; raised when an object would need more
  // than kMaxBlocksPerBlob blocks (<= kMaxBlockBytes).
  uint64_t block_size = 16ull << 20;
  // Blocks of one object in flight at once.
  int block_parallelism = 4;
  // Packs worth uploading at once (Backend::WriteConcurrency).
  int pack_uploads = 4;
  // The access tier of data packs ("Hot", "Cool", "Cold"; "" = the
  // account's default). Every other object stays in the account's default
  // (Hot) tier, so listing and recovery never wait for rehydration.
  std::string pack_access_tier;
  // Blobs per List Blobs page (1..5000); small values exercise paging.
  int list_page_size = 5000;
  HttpOptions http;
};

// "azure://CONTAINER[/PREFIX]" -> {container, prefix}; the prefix loses
// leading and trailing '/'. InvalidArgument for another form or an invalid
// container name.
Result<std::pair<std::string, std::string>> ParseAzureLocation(std::string_view location);

// Container names: 3-63 lower-case letters, digits and dashes; starts and
// ends with a letter or digit; no "--".
bool ValidContainerName(std::string_view name);

class AzureBackend : public Backend, public std::enable_shared_from_this<AzureBackend> {
 public:
  // Touches nothing remote (Create does).
  static Result<std::shared_ptr<AzureBackend>> Open(AzureConnection connection,
                                                    std::string container, std::string prefix,
                                                    AzureOptions options = {});

  std::string Location() const override;
  Status Create() override;
  Result<bool> HasAnyObject() override;
  Status Save(const ObjectName& name, ByteView data) override;
  Result<std::string> Replace(const ObjectName& name, ByteView data,
                              const std::string& if_match) override;
  Result<Bytes> Load(const ObjectName& name, uint64_t offset = 0, uint64_t length = 0) override;
  Result<ObjectInfo> Stat(const ObjectName& name) override;
  Status List(ObjectType type, const std::function<Status(const ObjectInfo&)>& fn) override;
  Status Remove(const ObjectName& name) override;
  Result<std::unique_ptr<BackendLock>> TryLock(std::string_view lock_name,
                                               std::chrono::seconds ttl) override;
  int WriteConcurrency() const override { return options_.pack_uploads; }

  // The blob name that holds `name`.
  std::string BlobName(const ObjectName& name) const;

 private:
  friend class AzureLock;

  // One REST call: `blob` empty addresses the container itself; `query`
  // holds decoded names and values.
  struct Call {
    std::string method;
    std::string blob;
    HeaderList query;
    HeaderList headers;
    ByteView body;
  };
  struct Answer {
    HttpResponse response;
    std::string url;  // for messages (UrlForMessages strips the query)
  };

  AzureBackend(AzureConnection connection, std::string container, std::string prefix,
               const AzureOptions& options);

  // Signs (Shared Key) or appends the SAS, sends, and returns the response
  // whatever its status; an error only when nothing was answered.
  Result<Answer> Execute(const Call& call);
  // A Status for an answer that is not a success.
  Status Fail(const Answer& answer, std::string_view what) const;
  // Adds x-ms-access-tier for packs when a tier is configured.
  void AddTier(const ObjectName& name, HeaderList& headers) const;
  Status PutBlocks(const ObjectName& name, const std::string& blob, ByteView data);
  // Walks List Blobs pages under `prefix`; `fn(blob name, info)` with the
  // size, etag, MD5, Last-Modified and access tier (info.name left empty).
  Status ListBlobs(const std::string& prefix,
                   const std::function<Status(const std::string&, ObjectInfo)>& fn);
  std::string Describe(const ObjectName& name) const;  // "azure://c/p/keys/ab12"

  AzureConnection connection_;
  std::string container_;
  std::string prefix_;       // no leading or trailing '/'; may be empty
  std::string blob_base_;    // prefix_ + "/" or ""
  std::string origin_;       // "https://host[:port]"
  std::string path_prefix_;  // the endpoint's path ("" or "/devstoreaccount1")
  AzureOptions options_;
  HttpClient http_;

  Mutex lease_mu_;
  // Lease blobs this object holds a lease on now (an AzureLock exists).
  std::set<std::string> held_leases_ GUARDED_BY(lease_mu_);
  std::map<std::string, std::string> lease_ids_ GUARDED_BY(lease_mu_);  // blob -> our lease id
};

// The registry's factory for "azure://CONTAINER[/PREFIX]" (see registry.h):
// an AzureBackend wrapped in a RetryBackend. Its settings:
//   azure.connection_string  the storage account's connection string (required; a secret)
//   azure.access_tier        the tier of data packs: Hot, Cool, Cold ("" = the account's)
// and OpenOptions' connections, bandwidth limits and stall timeout.
Result<std::shared_ptr<Backend>> OpenAzureLocation(const std::string& location,
                                                   const OpenOptions& options);

}  // namespace cairn::backend::azure
