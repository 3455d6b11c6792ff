// Writes the seed corpora of the fuzz targets (corpus/<target>/seed-*)
// with cairn's own encoders, so each target starts from inputs as cairn
// writes them. Deterministic: the same files every run (fixed keys, ids and
// times; the only randomness, the envelopes' nonces and the key slot's,
// changes bytes the targets do not start from).
//
// Usage: make_fuzz_seeds OUT_DIR SOURCE_DIR   (scripts/fuzz --seeds)
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "catalog/version_coding.h"
#include "fuzz/fuzz_util.h"
#include "repo/generation.h"
#include "repo/index.h"
#include "repo/keys.h"
#include "repo/pack.h"
#include "repo/repo_config.h"
#include "repo/repo_lock.h"
#include "repo/version_segment.h"

using namespace cairn;

namespace {

std::string g_out;

void Write(const std::string& target, const std::string& name, std::string_view bytes) {
  std::filesystem::create_directories(g_out + "/" + target);
  std::ofstream f(g_out + "/" + target + "/seed-" + name, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}
void Write(const std::string& target, const std::string& name, ByteView bytes) {
  Write(target, name, AsString(bytes));
}
std::string With(uint8_t first, ByteView rest) {
  std::string s(1, static_cast<char>(first));
  s.append(AsString(rest));
  return s;
}

Id MakeId(uint8_t seed) {
  Id id;
  for (size_t i = 0; i < id.bytes.size(); ++i) id.bytes[i] = static_cast<uint8_t>(seed * 31 + i);
  return id;
}

constexpr TimeNs kT = 1'764'000'000'123'456'789;  // late 2025

repo::VersionRecord File(const std::string& path, uint8_t seed) {
  repo::VersionRecord r;
  r.path = path;
  r.device = "laptop";
  r.backup_time = kT + seed;
  r.wall_time = kT + seed;
  r.type = repo::FileType::kFile;
  r.size = 1000 + seed;
  r.mode = 0644;
  r.uid = r.gid = 1000;
  r.user = r.group = "you";
  r.mtime = kT - 1'000'000'000;
  r.ctime = kT - 500;
  r.inode = 42 + seed;
  r.dev = 2049;
  r.content_sha256 = MakeId(seed);
  r.chunks = {MakeId(seed + 1), MakeId(seed + 2)};
  r.xattrs = {{"user.comment", Bytes{'h', 'i'}}};
  return r;
}

repo::VersionSegment Segment(bool final) {
  repo::VersionSegment s;
  s.run_id = MakeId(7);
  s.sequence = final ? 2 : 0;
  s.final = final;
  s.device = "laptop";
  s.created = kT;
  s.roots = {"/home/you/Documents"};
  s.records.push_back(File("/home/you/Documents/a.txt", 1));
  repo::VersionRecord dir;
  dir.path = "/home/you/Documents";
  dir.device = "laptop";
  dir.backup_time = kT;
  dir.type = repo::FileType::kDir;
  dir.mode = 0755;
  s.records.push_back(dir);
  repo::VersionRecord link = dir;
  link.path = "/home/you/Documents/l";
  link.type = repo::FileType::kSymlink;
  link.link_target = "../x";
  s.records.push_back(link);
  repo::VersionRecord gone;
  gone.path = "/home/you/Documents/old.txt";
  gone.device = "desktop";
  gone.backup_time = kT + 9;
  gone.deleted = true;
  s.records.push_back(gone);
  if (final) {
    s.files_new = 3;
    s.bytes_read = 4096;
    s.supersedes = {MakeId(3)};
    repo::RunInfo run;
    run.run_id = MakeId(4);
    run.device = "laptop";
    run.start = kT - 10;
    run.end = kT;
    run.complete = true;
    s.runs.push_back(run);
    s.forget.push_back(repo::VersionIdOf(s.records[0]));
  }
  return s;
}

std::vector<repo::PackEntry> Entries() {
  std::vector<repo::PackEntry> e(3);
  uint32_t offset = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    e[i].type = i == 2 ? repo::BlobType::kMeta : repo::BlobType::kData;
    e[i].id = MakeId(static_cast<uint8_t>(10 + i));
    e[i].offset = offset;
    e[i].length = 40 + 10 * static_cast<uint32_t>(i);
    e[i].raw_length = 100;
    offset += e[i].length;
  }
  return e;
}

}  // namespace

static int Run(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: make_fuzz_seeds OUT_DIR SOURCE_DIR\n";
    return 2;
  }
  g_out = argv[1];
  const std::string source = argv[2];
  const crypto::Key& key = fuzz::TestKey();
  const std::string name = fuzz::TestId().Hex();

  // Envelopes: payloads as SealEnvelope makes them (zstd, gzip, stored).
  Bytes body = repo::EncodeSegmentBody(Segment(true));
  int n = 0;
  for (auto algo :
       {compress::Algorithm::kNone, compress::Algorithm::kZstd, compress::Algorithm::kGzip}) {
    Bytes sealed;
    repo::SealEnvelope(key, "index", name, algo, 3, body, sealed);
    Result<Bytes> payload = crypto::Open(key, sealed, repo::EnvelopeAd("index", name));
    FUZZ_CHECK(payload.ok());
    Write("envelope_open", "payload-" + std::to_string(n), With(0x00, *payload));
    Write("envelope_open", "sealed-" + std::to_string(n), With(0x01, sealed));
    Write("envelope_open", "body-" + std::to_string(n),
          With(static_cast<uint8_t>(2 + 3 * n), body));
    ++n;
  }

  // Index objects.
  std::vector<repo::IndexedPack> packs = {{MakeId(1), Entries()}, {MakeId(2), {Entries()[0]}}};
  Write("index_decode", "two-packs", repo::EncodeIndexBody(packs));
  Write("index_decode", "empty", repo::EncodeIndexBody({}));

  // Pack trailers: the header's plaintext (mode 0) and a whole pack (mode 1).
  {
    std::vector<repo::PackEntry> e = Entries();
    uint32_t area = 0;
    for (const auto& x : e) area += x.length;
    Bytes pack(area, 0);
    repo::FinishPack(key, fuzz::TestId(), e, pack);
    uint32_t hlen = GetU32(pack.data() + pack.size() - 4);
    Result<Bytes> header =
        repo::OpenEnvelope(key, "packheader", name, ByteView(pack.data() + area, hlen));
    FUZZ_CHECK(header.ok());
    std::string plain = {0x00, static_cast<char>(area & 0xff), static_cast<char>(area >> 8)};
    plain.append(AsString(*header));
    Write("pack_trailer", "header", plain);
    std::string whole = {0x01, 0, 0};
    whole.append(AsString(pack));
    Write("pack_trailer", "pack", whole);
  }

  // Version segments (CBOR), and the CBOR reader.
  Write("segment_decode", "final", repo::EncodeSegmentBody(Segment(true)));
  Write("segment_decode", "checkpoint", repo::EncodeSegmentBody(Segment(false)));
  Write("cbor_reader", "segment", With(0x00, repo::EncodeSegmentBody(Segment(true))));
  Write("cbor_reader", "values", With(0x01, AsBytes("values written by the writer: \x01\x02\x03")));
  for (int i = 0; i < 4; ++i) {
    std::string s;
    for (int k = 0; k < 200; ++k) s += static_cast<char>((k * 37 + i * 11) & 0xff);
    Write("segment_roundtrip", "bytes-" + std::to_string(i), s);
    Write("catalog_record", "bytes-" + std::to_string(i), std::string(1, '\0') + s);
  }
  {
    repo::VersionRecord r = File("/home/you/a.txt", 5);
    std::string rec;
    catalog::EncodeVersion(r, 7, &rec);
    std::string seed(1, '\x01');
    Bytes bt;
    PutU64(bt, static_cast<uint64_t>(r.backup_time));
    seed.append(AsString(bt));
    seed.append(rec);
    Write("catalog_record", "encoded", seed);
  }

  // Locks and the generation.
  repo::LockInfo lock;
  lock.host = "laptop";
  lock.pid = 4242;
  lock.device = "laptop";
  lock.operation = "backup";
  lock.created = kT;
  lock.expires = kT + 300'000'000'000;
  Write("lock_decode", "shared", repo::EncodeLock(lock));
  lock.exclusive = true;
  lock.operation = "prune";
  Write("lock_decode", "exclusive", repo::EncodeLock(lock));
  lock.intent = true;
  lock.priority_until = kT + 600'000'000'000;
  Write("lock_decode", "intent", repo::EncodeLock(lock));
  repo::Generation g;
  g.number = 3;
  g.device = "laptop";
  g.operation = "prune";
  g.time = kT;
  g.nonce = MakeId(9);
  Write("generation", "prune", repo::EncodeGeneration(g));

  // Key slots (the tests' cheap KDF: unwrapping them in the target is fast).
  {
    repo::MasterKeys keys = repo::MasterKeys::Generate(MakeId(1));
    crypto::KdfParams kdf = crypto::CheapKdfParams();
    kdf.salt.fill(7);
    Result<repo::KeySlot> slot = repo::MakeKeySlot(keys, "secret", kdf, "laptop");
    FUZZ_CHECK(slot.ok());
    slot->created = kT;
    Write("key_slot", "cheap", repo::EncodeKeySlot(*slot));
    slot->kdf.opslimit = 3;
    slot->kdf.memlimit = 64ull << 20;
    slot->label = "paper copy";
    Write("key_slot", "default", repo::EncodeKeySlot(*slot));
  }

  // The repository config.
  {
    repo::RepoConfig c;
    c.repo_id = MakeId(1);
    c.created = kT;
    c.chunker.seed = MakeId(2).bytes;
    Write("repo_config", "v3", repo::EncodeRepoConfig(c));
    c.format_major = 2;
    c.chunker.min_size = 64 * 1024;
    c.chunker.avg_size = 256 * 1024;
    c.chunker.max_size = 1024 * 1024;
    Write("repo_config", "v2-small-chunks", repo::EncodeRepoConfig(c));
  }

  // The settings file: the example shipped with cairn.
  {
    std::ifstream f(source + "/config/settings.example.yaml", std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    FUZZ_CHECK(!text.empty());
    Write("settings_yaml", "example", text);
    Write("settings_yaml", "small",
          "repository: ~/backup\nbackup:\n  watched_directories: [~/Documents]\n"
          "  compression: zstd\nweb:\n  port: 5000\n");
  }

  // Text formats of other parties (no encoder of ours): as they look.
  Write("connection_string", "portal",
        std::string(1, '\0') +
            "DefaultEndpointsProtocol=https;AccountName=myaccount;EndpointSuffix=core.windows.net");
  Write("connection_string", "sas",
        std::string(1, '\x01') + "BlobEndpoint=https://myaccount.blob.core.windows.net/");
  Write("connection_string", "azurite", std::string(1, '\x02') + "UseDevelopmentStorage=true");
  Write("connection_string", "emulator",
        std::string(1, '\0') +
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;");
  Write("azure_list", "page",
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults "
        "ServiceEndpoint=\"https://a.blob.core.windows.net/\" ContainerName=\"c\"><Prefix>p/"
        "</Prefix><MaxResults>2</MaxResults><Blobs><Blob><Name>p/keys/ab&amp;c</Name><Properties>"
        "<Last-Modified>Mon, 30 Nov 2026 18:00:00 GMT</Last-Modified><Etag>\"0x8DC1\"</Etag>"
        "<Content-Length>1234</Content-Length><Content-MD5>1B2M2Y8AsgTpgAmY7PhCfg==</Content-MD5>"
        "<AccessTier>Hot</AccessTier></Properties></Blob><Blob><Name>p/locks/x&#x41;&#66;</Name>"
        "<Properties><Content-Length>0</Content-Length></Properties></Blob></Blobs>"
        "<NextMarker>2!80!MDAwMDQ2&lt;</NextMarker></EnumerationResults>");
  Write("azure_list", "last-page",
        "<EnumerationResults><Blobs><Blob><Name>data/ab/ab01</Name></Blob></Blobs><NextMarker />"
        "</EnumerationResults>");
  Write("azure_error", "server-busy",
        std::string("\x01\xf7\x01") + "5\x0aServerBusy\x01" +
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>ServerBusy</Code><Message>"
            "The server is busy.</Message></Error>");
  Write("azure_error", "not-found",
        std::string("\x01\x94\x00\x00\x00", 5) +
            "<Error><Code>BlobNotFound</Code><Message>The specified blob does not exist."
            "</Message></Error>");
  Write("restore_path", "under", std::string("/home/you/a/b.txt\0/home/you\0/tmp/r", 33));
  Write("restore_path", "root", std::string("/etc/x\0/\0", 9));
  Write("web_auth", "host",
        std::string("\x00"
                    "127.0.0.1:5000",
                    15));
  Write("web_auth", "origin",
        std::string("\x01"
                    "http://localhost:5000",
                    22));
  Write("web_auth", "bearer",
        std::string("\x02"
                    "Bearer 0123456789abcdef",
                    24));
  Write("web_auth", "cookie",
        std::string("\x03"
                    "a=1; cairn_session=abcdef; b=2",
                    31));
  Write("web_auth", "loopback",
        std::string("\x04"
                    "127.0.0.1",
                    10));
  // Requests to the web server: mode 0 as sent, mode 1 with the token and
  // Host added by the target (GET and HEAD only).
  const char* kRequests[][2] = {
      {"status", "\x00GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n\r\n"},
      {"login",
       "\x00POST /api/login HTTP/1.1\r\nHost: localhost:5000\r\nOrigin: "
       "http://localhost:5000\r\nContent-Type: application/json\r\nContent-Length: "
       "13\r\n\r\n{\"token\":\"x\"}"},
      {"link", "\x00GET /?token=0123 HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n\r\n"},
      {"cookie",
       "\x00GET /api/files?path=/ HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nCookie: "
       "cairn_session=abc\r\n\r\n"},
      {"files", "\x01GET /api/files?path=/&limit=10 HTTP/1.1\r\n\r\n"},
      {"versions", "\x01GET /api/versions?path=/tmp&device=*&limit=5 HTTP/1.1\r\n\r\n"},
      {"search", "\x01GET /api/search?q=report&deleted=false&limit=5 HTTP/1.1\r\n\r\n"},
      {"download",
       "\x01GET /api/download/0123456789abcdef01234567 HTTP/1.1\r\nRange: "
       "bytes=0-3\r\n\r\n"},
      {"version", "\x01GET /api/version/0123456789abcdef01234567 HTTP/1.1\r\n\r\n"},
      {"history", "\x01GET /api/stats/history?days=7 HTTP/1.1\r\n\r\n"},
      {"log", "\x01GET /api/log?lines=10 HTTP/1.1\r\n\r\n"},
      {"runs", "\x01GET /api/runs?limit=3 HTTP/1.1\r\n\r\n"},
      {"settings", "\x01GET /api/settings HTTP/1.1\r\n\r\n"},
      {"metrics", "\x01HEAD /metrics HTTP/1.1\r\n\r\n"},
      {"at", "\x01GET /api/files?path=/&at=2026-11-30T18:00:00Z HTTP/1.1\r\n\r\n"},
  };
  for (const auto& r : kRequests) {
    // r[1][0] is the mode byte ("\x00" ends a C string: the request starts at r[1] + 1).
    Write("web_request", r[0], std::string(1, r[1][0]) + (r[1] + 1));
  }
  std::cout << "seeds written to " << g_out << "\n";
  return 0;
}

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {  // a file that cannot be written, say
    std::cerr << "make_fuzz_seeds: " << e.what() << "\n";
    return 1;
  }
}
