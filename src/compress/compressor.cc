// Per-chunk compression over libzstd and zlib.
//
// Formats (part of the repository format):
//  - kZstd: one zstd frame (ZSTD_compress2, content size in the frame header,
//    no frame checksum: the AEAD authenticates the bytes already).
//  - kGzip: one gzip member (RFC 1952) from deflateInit2(windowBits 15 + 16,
//    memLevel 8, Z_DEFAULT_STRATEGY); zlib writes a default header (mtime 0).
//    Decompression checks the member's CRC-32 and length and rejects
//    trailing bytes.
//  - kNone: the bytes as they are.
// Compression contexts are per thread and reused (thread_local), so a call
// allocates nothing beyond the growth of `out` once a thread is warm.
// Levels outside an algorithm's range are clamped (ValidateLevel reports them
// to the user first).

#include "compress/compressor.h"

#include <zlib.h>
#include <zstd.h>

#include <vector>

#include <algorithm>
#include <climits>
#include <memory>
#include <string>

namespace cairn::compress {

namespace {

constexpr int kZstdMinLevel = 1;
constexpr int kZstdMaxLevel = 19;
constexpr int kGzipMinLevel = 1;
constexpr int kGzipMaxLevel = 9;
// deflate never compresses better than about 1032:1.
constexpr size_t kDeflateMaxRatio = 1032;
// zlib counts in uInt; feed it at most this much at a time.
constexpr size_t kZlibStep = size_t{1} << 30;

// Worth storing compressed only when it saves at least 1/32 of the size.
bool WorthIt(size_t raw, size_t compressed) { return compressed * 32 <= raw * 31; }

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> ctx(ZSTD_createCCtx());
  return ctx.get();
}
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx(ZSTD_createDCtx());
  return ctx.get();
}

// A deflate stream in gzip mode, kept per thread and reset between uses.
class Deflater {
 public:
  ~Deflater() {
    if (level_ != 0) deflateEnd(&z_);
  }
  // Returns a stream ready for a new member at `level`, or nullptr when zlib
  // cannot allocate its state.
  z_stream* Get(int level) {
    if (level_ == level) {
      if (deflateReset(&z_) == Z_OK) return &z_;
    }
    if (level_ != 0) deflateEnd(&z_);
    level_ = 0;
    z_ = z_stream{};
    if (deflateInit2(&z_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      return nullptr;
    }
    level_ = level;
    return &z_;
  }

 private:
  z_stream z_{};
  int level_ = 0;  // 0: not initialized
};

class Inflater {
 public:
  ~Inflater() {
    if (ready_) inflateEnd(&z_);
  }
  z_stream* Get() {
    if (ready_ && inflateReset(&z_) == Z_OK) return &z_;
    if (ready_) inflateEnd(&z_);
    ready_ = false;
    z_ = z_stream{};
    if (inflateInit2(&z_, 15 + 16) != Z_OK) return nullptr;  // gzip only
    ready_ = true;
    return &z_;
  }

 private:
  z_stream z_{};
  bool ready_ = false;
};

// Compresses `in` into dst[0, limit) as one gzip member; sets *written and
// returns true, or returns false when it does not fit (or zlib fails).
bool GzipCompress(int level, ByteView in, uint8_t* dst, size_t limit, size_t* written) {
  thread_local Deflater deflater;
  z_stream* z = deflater.Get(level);
  if (z == nullptr) return false;
  const uint8_t* src = in.data();
  size_t in_left = in.size();
  size_t out_left = limit;
  z->next_out = dst;
  for (;;) {
    const uInt in_step = static_cast<uInt>(std::min(in_left, kZlibStep));
    const uInt out_step = static_cast<uInt>(std::min(out_left, kZlibStep));
    z->next_in = const_cast<Bytef*>(src);
    z->avail_in = in_step;
    z->avail_out = out_step;
    const int flush = in_step == in_left ? Z_FINISH : Z_NO_FLUSH;
    const int rc = deflate(z, flush);
    const size_t used_in = in_step - z->avail_in;
    const size_t used_out = out_step - z->avail_out;
    src += used_in;
    in_left -= used_in;
    out_left -= used_out;
    if (rc == Z_STREAM_END) {
      *written = limit - out_left;
      return true;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
    if (out_left == 0) return false;                  // does not fit: not worth it
    if (used_in == 0 && used_out == 0) return false;  // no progress
  }
}

Status GzipDecompress(ByteView in, uint8_t* dst, size_t raw_size) {
  thread_local Inflater inflater;
  z_stream* z = inflater.Get();
  if (z == nullptr) return Status::IOError("gzip: cannot allocate the inflate state");
  const uint8_t* src = in.data();
  size_t in_left = in.size();
  size_t out_left = raw_size;
  z->next_out = dst;
  for (;;) {
    const uInt in_step = static_cast<uInt>(std::min(in_left, kZlibStep));
    const uInt out_step = static_cast<uInt>(std::min(out_left, kZlibStep));
    z->next_in = const_cast<Bytef*>(src);
    z->avail_in = in_step;
    z->avail_out = out_step;
    const int rc = inflate(z, Z_NO_FLUSH);
    const size_t used_in = in_step - z->avail_in;
    const size_t used_out = out_step - z->avail_out;
    src += used_in;
    in_left -= used_in;
    out_left -= used_out;
    if (rc == Z_STREAM_END) {
      if (out_left != 0) {
        return Status::Corruption("gzip: data expands to " + std::to_string(raw_size - out_left) +
                                  " bytes, expected " + std::to_string(raw_size));
      }
      if (in_left != 0) return Status::Corruption("gzip: trailing bytes after the gzip member");
      return Status::OK();
    }
    if (rc == Z_MEM_ERROR) return Status::IOError("gzip: out of memory");
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return Status::Corruption(std::string("gzip: malformed data: ") +
                                (z->msg != nullptr ? z->msg : "inflate error"));
    }
    if (used_in == 0 && used_out == 0) {  // no progress possible
      if (out_left == 0) {
        return Status::Corruption("gzip: data expands to more than " + std::to_string(raw_size) +
                                  " bytes");
      }
      return Status::Corruption("gzip: truncated data (" + std::to_string(in.size()) + " bytes)");
    }
  }
}

Status ZstdDecompress(ByteView in, uint8_t* dst, size_t raw_size) {
  const size_t n = ZSTD_decompressDCtx(ThreadDCtx(), dst, raw_size, in.data(), in.size());
  if (ZSTD_isError(n)) {
    return Status::Corruption(std::string("zstd: malformed data: ") + ZSTD_getErrorName(n));
  }
  if (n != raw_size) {
    return Status::Corruption("zstd: data expands to " + std::to_string(n) + " bytes, expected " +
                              std::to_string(raw_size));
  }
  return Status::OK();
}

}  // namespace

Result<Algorithm> ParseAlgorithm(std::string_view name) {
  if (name == "zstd") return Algorithm::kZstd;
  if (name == "gzip") return Algorithm::kGzip;
  if (name == "none") return Algorithm::kNone;
  return Status::InvalidArgument("unknown compression algorithm '" + std::string(name) +
                                 "' (allowed: zstd, gzip, none)");
}

std::string_view AlgorithmName(Algorithm a) {
  switch (a) {
    case Algorithm::kNone:
      return "none";
    case Algorithm::kZstd:
      return "zstd";
    case Algorithm::kGzip:
      return "gzip";
  }
  return "unknown";
}

int DefaultLevel(Algorithm a) {
  switch (a) {
    case Algorithm::kZstd:
      // Level 1: on source trees ~25% less CPU than level 3 for ~3.5% more
      // storage (bench/README.md); backup speed is what users notice.
      return 1;
    case Algorithm::kGzip:
      return 6;
    case Algorithm::kNone:
      return 0;
  }
  return 0;
}

Status ValidateLevel(Algorithm a, int level) {
  int lo = 0, hi = 0;
  switch (a) {
    case Algorithm::kNone:
      return Status::OK();
    case Algorithm::kZstd:
      lo = kZstdMinLevel;
      hi = kZstdMaxLevel;
      break;
    case Algorithm::kGzip:
      lo = kGzipMinLevel;
      hi = kGzipMaxLevel;
      break;
    default:
      return Status::InvalidArgument("unknown compression algorithm " +
                                     std::to_string(static_cast<int>(a)) +
                                     " (allowed: zstd, gzip, none)");
  }
  if (level < lo || level > hi) {
    return Status::InvalidArgument(
        std::string(AlgorithmName(a)) + " compression level " + std::to_string(level) +
        " is out of range (allowed: " + std::to_string(lo) + ".." + std::to_string(hi) + ")");
  }
  return Status::OK();
}

namespace {
// Inputs at least this large are sampled before being compressed whole.
constexpr size_t kSampleThreshold = 256 * 1024;
constexpr size_t kSampleSize = 64 * 1024;
}  // namespace

Algorithm CompressAppend(Algorithm algo, int level, ByteView in, Bytes& out) {
  const size_t old = out.size();
  switch (algo) {
    case Algorithm::kZstd: {
      ZSTD_CCtx* cctx = ThreadCCtx();
      if (cctx == nullptr) return Algorithm::kNone;
      if (in.size() >= kSampleThreshold) {
        // Photos, videos, archives: a quick look at a sample from the middle
        // at the fastest level saves compressing a whole chunk for nothing.
        thread_local std::vector<uint8_t> sample_out(ZSTD_compressBound(kSampleSize));
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);
        const uint8_t* mid = in.data() + (in.size() - kSampleSize) / 2;
        const size_t n =
            ZSTD_compress2(cctx, sample_out.data(), sample_out.size(), mid, kSampleSize);
        if (ZSTD_isError(n) || !WorthIt(kSampleSize, n)) return Algorithm::kNone;
      }
      level = std::clamp(level, kZstdMinLevel, kZstdMaxLevel);
      if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level))) {
        return Algorithm::kNone;
      }
      out.resize(old + ZSTD_compressBound(in.size()));
      const size_t n =
          ZSTD_compress2(cctx, out.data() + old, out.size() - old, in.data(), in.size());
      if (ZSTD_isError(n) || !WorthIt(in.size(), n)) {
        out.resize(old);
        return Algorithm::kNone;
      }
      out.resize(old + n);
      return Algorithm::kZstd;
    }
    case Algorithm::kGzip: {
      level = std::clamp(level, kGzipMinLevel, kGzipMaxLevel);
      // Room for exactly the largest size that is still worth it: deflate
      // stops early when the output would be larger.
      const size_t limit = in.size() * 31 / 32;
      out.resize(old + limit);
      size_t n = 0;
      if (!GzipCompress(level, in, out.data() + old, limit, &n) || !WorthIt(in.size(), n)) {
        out.resize(old);
        return Algorithm::kNone;
      }
      out.resize(old + n);
      return Algorithm::kGzip;
    }
    case Algorithm::kNone:
      break;
  }
  return Algorithm::kNone;
}

Status DecompressAppend(Algorithm algo, ByteView in, size_t raw_size, Bytes& out) {
  switch (algo) {
    case Algorithm::kNone:
      if (in.size() != raw_size) {
        return Status::Corruption("stored data has " + std::to_string(in.size()) +
                                  " bytes, expected " + std::to_string(raw_size));
      }
      out.insert(out.end(), in.begin(), in.end());
      return Status::OK();
    case Algorithm::kZstd: {
      // Check the size the frame declares before allocating for it.
      const unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
      if (declared == ZSTD_CONTENTSIZE_ERROR) {
        return Status::Corruption("zstd: not a zstd frame");
      }
      if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != raw_size) {
        return Status::Corruption("zstd: frame declares " + std::to_string(declared) +
                                  " bytes, expected " + std::to_string(raw_size));
      }
      break;
    }
    case Algorithm::kGzip:
      if (raw_size / kDeflateMaxRatio > in.size()) {
        return Status::Corruption("gzip: " + std::to_string(in.size()) +
                                  " bytes cannot expand to " + std::to_string(raw_size));
      }
      break;
    default:
      return Status::Corruption("unknown compression algorithm " +
                                std::to_string(static_cast<int>(algo)));
  }

  const size_t old = out.size();
  out.resize(old + raw_size);
  Status st = algo == Algorithm::kZstd ? ZstdDecompress(in, out.data() + old, raw_size)
                                       : GzipDecompress(in, out.data() + old, raw_size);
  if (!st.ok()) out.resize(old);
  return st;
}

}  // namespace cairn::compress
