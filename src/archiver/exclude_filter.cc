#include "archiver/exclude_filter.h"

#include <sys/stat.h>

#include "archiver/excludes.h"

namespace cairn::archiver {

namespace {

constexpr size_t kMaxIgnoreFileBytes = 1 << 20;

std::string Join(std::string_view folder, std::string_view name) {
  std::string out(folder);
  if (out != "/") out += '/';
  out += name;
  return out;
}

// Reads at most `limit` bytes of the regular file at `path`.
Result<std::string> ReadHead(FileSystem& fs, const std::string& path, size_t limit) {
  CAIRN_ASSIGN_OR_RETURN(auto file, fs.OpenForRead(path));
  std::string out;
  out.resize(limit);
  size_t got = 0;
  while (got < limit) {
    CAIRN_ASSIGN_OR_RETURN(size_t n,
                           file->Read(reinterpret_cast<uint8_t*>(out.data()) + got, limit - got));
    if (n == 0) break;
    got += n;
  }
  out.resize(got);
  return out;
}

}  // namespace

ExcludeFilter::ExcludeFilter(ExcludeOptions options, FileSystem& fs,
                             std::function<void(const std::string&)> warn)
    : options_(std::move(options)), fs_(fs), warn_(std::move(warn)) {
  if (options_.exclude_editor_temporaries) editor_patterns_ = EditorTemporaryPatterns();
}

std::shared_ptr<const IgnoreRules> ExcludeFilter::RulesOf(const std::string& folder) {
  const std::string path = Join(folder, kIgnoreFileName);
  Result<struct stat> st = fs_.Lstat(path);
  if (!st.ok() || !S_ISREG(st->st_mode)) {
    MutexLock lock(mu_);
    rules_.erase(folder);
    return nullptr;
  }
  Stamp stamp{static_cast<int64_t>(st->st_mtim.tv_sec) * 1000000000 + st->st_mtim.tv_nsec,
              static_cast<int64_t>(st->st_ctim.tv_sec) * 1000000000 + st->st_ctim.tv_nsec,
              static_cast<uint64_t>(st->st_size), static_cast<uint64_t>(st->st_ino)};
  {
    MutexLock lock(mu_);
    auto it = rules_.find(folder);
    if (it != rules_.end() && it->second.stamp == stamp) return it->second.rules;
  }
  std::shared_ptr<const IgnoreRules> rules;
  Result<std::string> text = ReadHead(fs_, path, kMaxIgnoreFileBytes);
  if (!text.ok()) {
    if (warn_ && !text.error().IsNotFound())
      warn_(text.error().message() + "; its exclude rules are not applied");
  } else {
    if (warn_ && text->size() == kMaxIgnoreFileBytes &&
        static_cast<uint64_t>(st->st_size) > kMaxIgnoreFileBytes)
      warn_(path + " is larger than 1 MiB; only its first 1 MiB is used");
    rules = std::make_shared<const IgnoreRules>(IgnoreRules::Parse(*text, folder));
  }
  MutexLock lock(mu_);
  rules_[folder] = CachedRules{stamp, rules};
  return rules;
}

bool ExcludeFilter::IsCacheDir(const std::string& folder) {
  const std::string path = Join(folder, kCacheDirTagName);
  Result<struct stat> st = fs_.Lstat(path);
  if (!st.ok() || !S_ISREG(st->st_mode) ||
      static_cast<uint64_t>(st->st_size) < kCacheDirSignature.size()) {
    MutexLock lock(mu_);
    tags_.erase(folder);
    return false;
  }
  Stamp stamp{static_cast<int64_t>(st->st_mtim.tv_sec) * 1000000000 + st->st_mtim.tv_nsec,
              static_cast<int64_t>(st->st_ctim.tv_sec) * 1000000000 + st->st_ctim.tv_nsec,
              static_cast<uint64_t>(st->st_size), static_cast<uint64_t>(st->st_ino)};
  {
    MutexLock lock(mu_);
    auto it = tags_.find(folder);
    if (it != tags_.end() && it->second.stamp == stamp) return it->second.valid;
  }
  Result<std::string> head = ReadHead(fs_, path, kCacheDirSignature.size());
  bool valid = head.ok() && *head == kCacheDirSignature;
  MutexLock lock(mu_);
  tags_[folder] = CachedTag{stamp, valid};
  return valid;
}

ExcludeReason ExcludeFilter::Check(std::string_view path, bool is_dir, const RuleChain& chain) {
  const std::vector<std::string>& patterns = options_.patterns;
  if (!patterns.empty()) {
    if (MatchesExclude(patterns, path)) return ExcludeReason::kPattern;
    if (is_dir && MatchesExclude(patterns, std::string(path) + "/")) return ExcludeReason::kPattern;
  }
  if (!is_dir && MatchesExclude(editor_patterns_, path)) return ExcludeReason::kPattern;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    IgnoreRules::Verdict v = (*it)->Match(path, is_dir);
    if (v == IgnoreRules::Verdict::kExclude) return ExcludeReason::kIgnoreFile;
    if (v == IgnoreRules::Verdict::kInclude) break;
  }
  if (is_dir && options_.exclude_caches && IsCacheDir(std::string(path)))
    return ExcludeReason::kCacheDir;
  return ExcludeReason::kNone;
}

ExcludeReason ExcludeFilter::Ancestors(std::string_view path, RuleChain& chain) {
  chain.clear();
  if (path.empty() || path[0] != '/') return ExcludeReason::kNone;
  if (auto root = RulesOf("/")) chain.push_back(std::move(root));
  // Every folder strictly between "/" and `path`.
  for (size_t slash = path.find('/', 1); slash != std::string_view::npos;
       slash = path.find('/', slash + 1)) {
    if (slash + 1 == path.size()) break;  // a trailing '/'
    std::string folder(path.substr(0, slash));
    ExcludeReason r = Check(folder, true, chain);
    if (r != ExcludeReason::kNone) return r;
    if (auto rules = RulesOf(folder)) chain.push_back(std::move(rules));
  }
  return ExcludeReason::kNone;
}

ExcludeReason ExcludeFilter::Excluded(std::string_view path, bool is_dir) {
  // A path naming a .cairnignore is one that changed (a watcher's event):
  // read it again even if its size and times look the same.
  size_t slash = path.rfind('/');
  if (slash != std::string_view::npos && path.substr(slash + 1) == kIgnoreFileName) {
    MutexLock lock(mu_);
    auto it = rules_.find(slash == 0 ? std::string_view("/") : path.substr(0, slash));
    if (it != rules_.end()) rules_.erase(it);
  }
  RuleChain chain;
  ExcludeReason r = Ancestors(path, chain);
  if (r != ExcludeReason::kNone) return r;
  return Check(path, is_dir, chain);
}

}  // namespace cairn::archiver
