#include "repo/cbor.h"

namespace cairn::repo {

namespace {
Status Malformed(const char* what) {
  return Status::Corruption(std::string("malformed CBOR: ") + what);
}
constexpr int kMaxDepth = 16;
}  // namespace

void CborWriter::Head(uint8_t major, uint64_t v) {
  uint8_t m = static_cast<uint8_t>(major << 5);
  if (v < 24) {
    out_.push_back(m | static_cast<uint8_t>(v));
  } else if (v <= 0xff) {
    out_.push_back(m | 24);
    out_.push_back(static_cast<uint8_t>(v));
  } else if (v <= 0xffff) {
    out_.push_back(m | 25);
    for (int i = 1; i >= 0; --i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  } else if (v <= 0xffffffffULL) {
    out_.push_back(m | 26);
    for (int i = 3; i >= 0; --i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  } else {
    out_.push_back(m | 27);
    for (int i = 7; i >= 0; --i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
}

Status CborReader::Head(uint8_t& major, uint64_t& value) {
  if (p_ >= end_) return Malformed("truncated");
  uint8_t b = *p_++;
  major = b >> 5;
  uint8_t info = b & 31;
  if (major == 7) {  // simple values and floats carry no length
    value = info;
    if (info == 25 || info == 26 || info == 27) {
      size_t n = info == 25 ? 2 : info == 26 ? 4 : 8;
      if (static_cast<size_t>(end_ - p_) < n) return Malformed("truncated");
      p_ += n;
    } else if (info == 24) {
      if (p_ >= end_) return Malformed("truncated");
      ++p_;
    } else if (info > 27) {
      return Malformed("indefinite lengths are not supported");
    }
    return Status::OK();
  }
  if (info < 24) {
    value = info;
    return Status::OK();
  }
  if (info > 27) return Malformed("indefinite lengths are not supported");
  size_t n = size_t{1} << (info - 24);
  if (static_cast<size_t>(end_ - p_) < n) return Malformed("truncated");
  value = 0;
  for (size_t i = 0; i < n; ++i) value = (value << 8) | *p_++;
  return Status::OK();
}

Result<uint64_t> CborReader::Uint() {
  uint8_t major = 0;
  uint64_t v = 0;
  CAIRN_RETURN_IF_ERROR(Head(major, v));
  if (major != 0) return Malformed("expected an unsigned integer");
  return v;
}

Result<int64_t> CborReader::Int() {
  uint8_t major = 0;
  uint64_t v = 0;
  CAIRN_RETURN_IF_ERROR(Head(major, v));
  if (major == 0) {
    if (v > static_cast<uint64_t>(INT64_MAX)) return Malformed("integer out of range");
    return static_cast<int64_t>(v);
  }
  if (major == 1) {
    if (v > static_cast<uint64_t>(INT64_MAX)) return Malformed("integer out of range");
    return -static_cast<int64_t>(v) - 1;
  }
  return Malformed("expected an integer");
}

Result<std::string> CborReader::String(uint8_t want_major) {
  uint8_t major = 0;
  uint64_t n = 0;
  CAIRN_RETURN_IF_ERROR(Head(major, n));
  if (major != want_major) return Malformed(want_major == 2 ? "expected bytes" : "expected text");
  if (n > static_cast<uint64_t>(end_ - p_)) return Malformed("truncated string");
  std::string s(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
  p_ += n;
  return s;
}

Result<std::string> CborReader::ByteString() { return String(2); }
Result<std::string> CborReader::Text() { return String(3); }

Result<bool> CborReader::Bool() {
  uint8_t major = 0;
  uint64_t v = 0;
  CAIRN_RETURN_IF_ERROR(Head(major, v));
  if (major != 7 || (v != 20 && v != 21)) return Malformed("expected a boolean");
  return v == 21;
}

Result<uint64_t> CborReader::Array() {
  uint8_t major = 0;
  uint64_t n = 0;
  CAIRN_RETURN_IF_ERROR(Head(major, n));
  if (major != 4) return Malformed("expected an array");
  if (n > static_cast<uint64_t>(end_ - p_)) return Malformed("array longer than its data");
  return n;
}

Result<uint64_t> CborReader::Map() {
  uint8_t major = 0;
  uint64_t n = 0;
  CAIRN_RETURN_IF_ERROR(Head(major, n));
  if (major != 5) return Malformed("expected a map");
  if (n > static_cast<uint64_t>(end_ - p_)) return Malformed("map longer than its data");
  return n;
}

Status CborReader::Skip(int depth) {
  if (depth > kMaxDepth) return Malformed("nested too deeply");
  uint8_t major = 0;
  uint64_t v = 0;
  CAIRN_RETURN_IF_ERROR(Head(major, v));
  switch (major) {
    case 0:
    case 1:
    case 7:
      return Status::OK();
    case 2:
    case 3:
      if (v > static_cast<uint64_t>(end_ - p_)) return Malformed("truncated string");
      p_ += v;
      return Status::OK();
    case 4:
      for (uint64_t i = 0; i < v; ++i) CAIRN_RETURN_IF_ERROR(Skip(depth + 1));
      return Status::OK();
    case 5:
      for (uint64_t i = 0; i < 2 * v; ++i) CAIRN_RETURN_IF_ERROR(Skip(depth + 1));
      return Status::OK();
    default:  // 6: tags are not used by cairn
      return Malformed("unsupported item");
  }
}

}  // namespace cairn::repo
