#include "core/json/writer.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/common/page_advice.h"

namespace mdu::json {
namespace {

// An upper bound close enough to the output size that the string is allocated once.
size_t EstimateSize(const Value& value, size_t indent, size_t level) {
  switch (value.type()) {
    case Type::kNull:
      return 4;
    case Type::kBool:
      return 5;
    case Type::kInt:
      return 20;
    case Type::kString:
      return value.as_string().size() + 2;
    case Type::kArray: {
      size_t n = 2 + indent * level;
      for (const Value& v : value.as_array()) {
        n += 2 + indent * (level + 1) + EstimateSize(v, indent, level + 1);
      }
      return n;
    }
    case Type::kObject: {
      size_t n = 2 + indent * level;
      for (const Member& m : value.as_object()) {
        n += m.first.size() + 6 + indent * (level + 1) + EstimateSize(m.second, indent, level + 1);
      }
      return n;
    }
  }
  return 0;
}

template <class Out>
void AppendInt(int64_t i, Out* out) {
  char buf[24];
  auto result = std::to_chars(buf, buf + sizeof(buf), i);
  out->append(buf, result.ptr);
}

// Returns the first byte at or after p that needs escaping (`"`, `\`, and with kControls also
// bytes below 0x20), or end. Whole 8-byte words are tested at once (SWAR) because strings,
// mostly hex digests, are most of every TUF document; a flagged word is rechecked bytewise.
template <bool kControls>
const char* FindEscape(const char* p, const char* end) {
  constexpr uint64_t kOnes = 0x0101010101010101u;
  constexpr uint64_t kHigh = 0x8080808080808080u;
  while (end - p >= 8) {
    uint64_t x;
    std::memcpy(&x, p, 8);
    uint64_t quote = x ^ (kOnes * '"');
    uint64_t backslash = x ^ (kOnes * '\\');
    uint64_t special = ((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash);
    if (kControls) special |= (x - kOnes * 0x20) & ~x;
    if ((special & kHigh) != 0) break;
    p += 8;
  }
  for (; p != end; ++p) {
    auto c = static_cast<uint8_t>(*p);
    if (c == '"' || c == '\\' || (kControls && c < 0x20)) return p;
  }
  return end;
}

// Canonical JSON escapes only `"` and `\`; every other byte is written as is.
template <class Out>
void AppendCanonicalString(std::string_view s, Out* out) {
  out->push_back('"');
  const char* p = s.data();
  const char* end = p + s.size();
  for (;;) {
    const char* esc = FindEscape<false>(p, end);
    out->append(p, esc);
    if (esc == end) break;
    out->push_back('\\');
    out->push_back(*esc);
    p = esc + 1;
  }
  out->push_back('"');
}

template <class Out>
void AppendCanonicalImpl(const Value& value, Out* out) {
  switch (value.type()) {
    case Type::kNull:
      out->append("null");
      return;
    case Type::kBool:
      out->append(value.as_bool() ? "true" : "false");
      return;
    case Type::kInt:
      AppendInt(value.as_int(), out);
      return;
    case Type::kString:
      AppendCanonicalString(value.as_string(), out);
      return;
    case Type::kArray: {
      out->push_back('[');
      bool first = true;
      for (const Value& v : value.as_array()) {
        if (!first) out->push_back(',');
        first = false;
        AppendCanonicalImpl(v, out);
      }
      out->push_back(']');
      return;
    }
    case Type::kObject: {
      out->push_back('{');
      bool first = true;
      for (const Member& m : value.as_object()) {
        if (!first) out->push_back(',');
        first = false;
        AppendCanonicalString(m.first, out);
        out->push_back(':');
        AppendCanonicalImpl(m.second, out);
      }
      out->push_back('}');
      return;
    }
  }
}

// Standard JSON escapes: the short forms python's json module uses, \u00XX for the other
// control characters; DEL and non-ASCII UTF-8 stay raw (python's ensure_ascii=False).
constexpr std::array<char, 256> kStandardEscape = [] {
  std::array<char, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[static_cast<size_t>(c)] = 'u';
  table['\b'] = 'b';
  table['\f'] = 'f';
  table['\n'] = 'n';
  table['\r'] = 'r';
  table['\t'] = 't';
  table['"'] = '"';
  table['\\'] = '\\';
  return table;
}();

void AppendStandardString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  const char* p = s.data();
  const char* end = p + s.size();
  for (;;) {
    const char* at = FindEscape<true>(p, end);
    out->append(p, at);
    if (at == end) break;
    auto c = static_cast<uint8_t>(*at);
    char esc = kStandardEscape[c];
    out->push_back('\\');
    out->push_back(esc);
    if (esc == 'u') {
      out->append("00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0x0F]);
    }
    p = at + 1;
  }
  out->push_back('"');
}

void AppendNewline(size_t indent, size_t level, std::string* out) {
  out->push_back('\n');
  out->append(indent * level, ' ');
}

void AppendStandard(const Value& value, size_t indent, size_t level, std::string* out) {
  switch (value.type()) {
    case Type::kNull:
      out->append("null");
      return;
    case Type::kBool:
      out->append(value.as_bool() ? "true" : "false");
      return;
    case Type::kInt:
      AppendInt(value.as_int(), out);
      return;
    case Type::kString:
      AppendStandardString(value.as_string(), out);
      return;
    case Type::kArray: {
      const Array& items = value.as_array();
      if (items.empty()) {
        out->append("[]");
        return;
      }
      out->push_back('[');
      bool first = true;
      for (const Value& v : items) {
        if (!first) out->push_back(',');
        first = false;
        if (indent > 0) AppendNewline(indent, level + 1, out);
        AppendStandard(v, indent, level + 1, out);
      }
      if (indent > 0) AppendNewline(indent, level, out);
      out->push_back(']');
      return;
    }
    case Type::kObject: {
      const Object& members = value.as_object();
      if (members.empty()) {
        out->append("{}");
        return;
      }
      out->push_back('{');
      bool first = true;
      for (const Member& m : members) {
        if (!first) out->push_back(',');
        first = false;
        if (indent > 0) AppendNewline(indent, level + 1, out);
        AppendStandardString(m.first, out);
        out->append(indent > 0 ? ": " : ":");
        AppendStandard(m.second, indent, level + 1, out);
      }
      if (indent > 0) AppendNewline(indent, level, out);
      out->push_back('}');
      return;
    }
  }
}

// Reserves the whole output once. A heap block past kPrefaultMinBytes has its pages made
// present in one call; a HugePageString's block is huge pages already, which fault faster
// than they are populated (one fault per 2 MiB).
template <class Out>
void AppendCanonicalReserved(const Value& value, Out* out) {
  const size_t start = out->size();
  const size_t estimate = EstimateSize(value, 0, 0);
  out->reserve(start + estimate);
  if constexpr (std::is_same_v<Out, std::string>) {
    // The estimate is within a few bytes per value of the output: all of it gets written.
    AdviseHugePages(out->data() + start, out->capacity() - start);
    if (estimate >= kPrefaultMinBytes) PrefaultForWrite(out->data() + start, estimate);
  }
  AppendCanonicalImpl(value, out);
}

}  // namespace

void AppendCanonical(const Value& value, std::string* out) { AppendCanonicalReserved(value, out); }

std::string Canonical(const Value& value) {
  std::string out;
  AppendCanonical(value, &out);
  return out;
}

HugePageString CanonicalInHugePages(const Value& value) {
  HugePageString out;
  AppendCanonicalReserved(value, &out);
  return out;
}

std::string Serialize(const Value& value, int indent) {
  auto width = static_cast<size_t>(indent > 0 ? indent : 0);
  std::string out;
  out.reserve(EstimateSize(value, width, 0));
  AppendStandard(value, width, 0, &out);
  return out;
}

}  // namespace mdu::json
