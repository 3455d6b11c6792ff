// The per-call curve of a long-lived engine: N small backups (3 changed
// files each, a daemon's batch) in one open session, with compaction every
// K backups, as `cairn run` will do. Prints, per bucket of backups, the mean
// and 95th-percentile wall time per backup and the most requests, list
// entries and objects read of any backup in it, as a Markdown table.
//
//   per_call_bench [--backups 10000] [--compact-every 100] [--bucket 500] [--dir DIR]
//
// The repository is a local one in DIR (default: a new folder under /tmp),
// so the figures are the engine's own cost, not a network's.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "engine/session.h"

namespace {

using namespace cairn;

class CountingBackend : public backend::ForwardingBackend {
 public:
  using ForwardingBackend::ForwardingBackend;
  struct Counts {
    uint64_t requests = 0, list_entries = 0, loads = 0;
  };
  Counts Take() {
    std::lock_guard lock(mu_);
    Counts c = c_;
    c_ = Counts();
    return c;
  }
  Status List(backend::ObjectType t,
              const std::function<Status(const backend::ObjectInfo&)>& fn) override {
    Count(&Counts::requests);
    return ForwardingBackend::List(t, [&](const backend::ObjectInfo& i) {
      Count(&Counts::list_entries);
      return fn(i);
    });
  }
  Result<Bytes> Load(const backend::ObjectName& n, uint64_t off, uint64_t len) override {
    Count(&Counts::requests);
    Count(&Counts::loads);
    return ForwardingBackend::Load(n, off, len);
  }
  Result<backend::ObjectInfo> Stat(const backend::ObjectName& n) override {
    Count(&Counts::requests);
    return ForwardingBackend::Stat(n);
  }
  Status Save(const backend::ObjectName& n, ByteView d) override {
    Count(&Counts::requests);
    return ForwardingBackend::Save(n, d);
  }
  Status Remove(const backend::ObjectName& n) override {
    Count(&Counts::requests);
    return ForwardingBackend::Remove(n);
  }

 private:
  void Count(uint64_t Counts::*field) {
    std::lock_guard lock(mu_);
    ++(c_.*field);
  }
  std::mutex mu_;
  Counts c_;
};

void Write(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  int backups = 10000, compact_every = 100, bucket = 500;
  std::string dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--backups")
      backups = std::atoi(argv[i + 1]);
    else if (a == "--compact-every")
      compact_every = std::atoi(argv[i + 1]);
    else if (a == "--bucket")
      bucket = std::atoi(argv[i + 1]);
    else if (a == "--dir")
      dir = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (dir.empty()) {
    char tmpl[] = "/tmp/cairn-per-call-XXXXXX";
    if (!mkdtemp(tmpl)) return 1;
    dir = tmpl;
  }
  std::map<std::string, std::string> env = {{"HOME", dir},
                                            {"XDG_CACHE_HOME", dir + "/cache"},
                                            {"XDG_CONFIG_HOME", dir + "/config"},
                                            {"XDG_DATA_HOME", dir + "/data"},
                                            {"CAIRN_PASSWORD", "bench"}};
  Write(dir + "/settings.yaml", "");
  std::shared_ptr<CountingBackend> counting;
  engine::SessionOptions o;
  o.repository = dir + "/repo";
  o.config_file = dir + "/settings.yaml";
  o.device = "bench";
  // The key derivation is paid once per open, not per call: cheap here so
  // the bench measures calls.
  o.cheap_kdf_for_tests = true;
  o.getenv = [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  o.wrap_backend = [&counting](std::shared_ptr<backend::Backend> be) {
    counting = std::make_shared<CountingBackend>(std::move(be));
    return std::shared_ptr<backend::Backend>(counting);
  };
  auto session = engine::Session::Create(o);
  if (!session.ok()) {
    std::fprintf(stderr, "%s\n", session.status().ToString().c_str());
    return 1;
  }
  engine::Session& s = **session;
  if (auto init = s.Init("bench"); !init.ok()) {
    std::fprintf(stderr, "%s\n", init.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "| backups | mean ms/backup | p95 ms | max requests | max list entries | max objects read | "
      "compaction ms (mean) |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  std::vector<double> times;
  uint64_t max_req = 0, max_entries = 0, max_loads = 0;
  double compact_ms = 0;
  int compactions = 0;
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < backups; ++i) {
    engine::BackupRequest req;
    for (int k = 0; k < 3; ++k) {
      std::string p = dir + "/docs/d" + std::to_string(k) + "/f" + std::to_string(i % 200);
      Write(p, "backup " + std::to_string(i) + " file " + std::to_string(k));
      req.paths.push_back(p);
    }
    counting->Take();
    auto t0 = Clock::now();
    auto b = s.Backup(req);
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (!b.ok()) {
      std::fprintf(stderr, "backup %d: %s\n", i, b.status().ToString().c_str());
      return 1;
    }
    auto c = counting->Take();
    times.push_back(ms);
    max_req = std::max(max_req, c.requests);
    max_entries = std::max(max_entries, c.list_entries);
    max_loads = std::max(max_loads, c.loads);
    if ((i + 1) % compact_every == 0) {
      auto t1 = Clock::now();
      auto r = s.Compact();
      if (!r.ok()) {
        std::fprintf(stderr, "compact: %s\n", r.status().ToString().c_str());
        return 1;
      }
      compact_ms += std::chrono::duration<double, std::milli>(Clock::now() - t1).count();
      ++compactions;
    }
    if ((i + 1) % bucket == 0) {
      double mean = 0;
      for (double t : times) mean += t;
      mean /= times.size();
      std::printf("| %d–%d | %.1f | %.1f | %llu | %llu | %llu | %.0f |\n", i + 2 - bucket, i + 1,
                  mean, Percentile(times, 0.95), static_cast<unsigned long long>(max_req),
                  static_cast<unsigned long long>(max_entries),
                  static_cast<unsigned long long>(max_loads),
                  compactions ? compact_ms / compactions : 0.0);
      std::fflush(stdout);
      times.clear();
      max_req = max_entries = max_loads = 0;
      compact_ms = 0;
      compactions = 0;
    }
  }
  std::filesystem::remove_all(dir);
  return 0;
}
