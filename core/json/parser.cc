#include "core/json/parser.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "core/common/page_advice.h"

namespace mdu::json {
namespace {

// Bytes a string can hold verbatim with no further check: printable ASCII except `"` and `\`.
// A table lookup keeps the inner loop of the string scan to one load and one branch per byte.
constexpr std::array<bool, 256> kPlainStringByte = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x80; ++c) table[static_cast<size_t>(c)] = true;
  table['"'] = false;
  table['\\'] = false;
  return table;
}();

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Length of the well-formed UTF-8 sequence starting at p (Unicode 15, table 3-7), or 0 when it
// is not well formed: this rejects overlong forms, UTF-16 surrogates encoded in UTF-8, code
// points above U+10FFFF and sequences cut short by the end of input.
size_t Utf8SequenceLength(const char* p, const char* end) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(p[i]); };
  auto avail = static_cast<size_t>(end - p);
  uint8_t b0 = byte(0);
  auto cont = [&](size_t i, uint8_t lo, uint8_t hi) {
    return i < avail && byte(i) >= lo && byte(i) <= hi;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1, 0x80, 0xBF) ? 2 : 0;
  if (b0 == 0xE0) return cont(1, 0xA0, 0xBF) && cont(2, 0x80, 0xBF) ? 3 : 0;
  if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) {
    return cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) ? 3 : 0;
  }
  if (b0 == 0xED) return cont(1, 0x80, 0x9F) && cont(2, 0x80, 0xBF) ? 3 : 0;
  if (b0 == 0xF0) return cont(1, 0x90, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  if (b0 >= 0xF1 && b0 <= 0xF3) {
    return cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  }
  if (b0 == 0xF4) return cont(1, 0x80, 0x8F) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  return 0;
}

// A key quoted in an error message: bounded, cut on a UTF-8 boundary, control characters and
// quotes replaced, so that a hostile document can neither flood logs nor break a report.
std::string KeyForMessage(std::string_view key) {
  constexpr size_t kMaxBytes = 64;
  size_t n = key.size();
  if (n > kMaxBytes) {
    n = kMaxBytes;
    while (n > 0 && (static_cast<uint8_t>(key[n]) & 0xC0) == 0x80) --n;
  }
  std::string out;
  out.reserve(n + 5);
  out.push_back('"');
  for (char c : key.substr(0, n)) {
    bool plain = static_cast<uint8_t>(c) >= 0x20 && c != '"' && c != '\\';
    out.push_back(plain ? c : '?');
  }
  out.push_back('"');
  if (n < key.size()) out += "...";
  return out;
}

bool MemberKeyLess(const Member& a, const Member& b) { return a.first < b.first; }

// Text bytes per object member assumed when reserving for a large document (see Parser).
constexpr size_t kTextBytesPerMemberGuess = 128;

}  // namespace

// Recursive descent over a byte range. Errors are recorded once (the first one wins) and every
// step returns false up the stack, so the hot path carries a bool rather than a Result.
class Parser {
 public:
  Parser(std::string_view text, size_t max_depth)
      : begin_(text.data()),
        p_(text.data()),
        end_(text.data() + text.size()),
        max_depth_(std::min(max_depth, kMaxSupportedDepth)) {
    // A large document is a large targets role: one object with a member per ~300 bytes of
    // text. Reserving the member stack for it (address space; pages are touched as members
    // arrive) and backing it with huge pages saves growing it by copying, 14 MB of fresh
    // pages for 100,000 targets. A guess only: the stack still grows past it.
    if (text.size() >= kHugePageAdviceMinBytes) {
      member_stack_.reserve(text.size() / kTextBytesPerMemberGuess);
      AdviseHugePages(member_stack_.data(), member_stack_.capacity() * sizeof(Member));
    }
  }

  Result<Value> Run() {
    if (begin_ == end_) {
      return MakeError(ErrorKind::kBadMetadata, "JSON: empty document at byte offset 0");
    }
    if (end_ - p_ >= 3 && std::memcmp(p_, "\xEF\xBB\xBF", 3) == 0) {
      return MakeError(ErrorKind::kBadMetadata,
                       "JSON: byte-order mark at byte offset 0 is not allowed");
    }
    Value root;
    SkipWhitespace();
    if (!ParseValue(&root, 0)) return MakeError(std::move(error_));
    SkipWhitespace();
    if (p_ != end_) {
      Fail(p_, "trailing content after the document");
      return MakeError(std::move(error_));
    }
    return root;
  }

 private:
  bool Fail(const char* at, std::string_view what, ErrorKind kind = ErrorKind::kBadMetadata) {
    error_ = Error(kind,
                   "JSON: " + std::string(what) + " at byte offset " + std::to_string(at - begin_));
    return false;
  }

  void SkipWhitespace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool ParseValue(Value* out, size_t depth) {
    if (p_ == end_) return Fail(p_, "unexpected end of input, expected a value");
    switch (*p_) {
      case '{':
        return ParseObject(out, depth + 1);
      case '[':
        return ParseArray(out, depth + 1);
      case '"': {
        std::string s;
        if (!ParseString(&s)) return false;
        out->v_.emplace<std::string>(std::move(s));
        return true;
      }
      case 't':
        return ParseLiteral("true", Value(true), out);
      case 'f':
        return ParseLiteral("false", Value(false), out);
      case 'n':
        return ParseLiteral("null", Value(), out);
      default:
        if (*p_ == '-' || IsDigit(*p_)) return ParseNumber(out);
        return Fail(p_, "unexpected character, expected a value");
    }
  }

  bool ParseLiteral(std::string_view word, Value value, Value* out) {
    if (static_cast<size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0) {
      return Fail(p_, "invalid literal");
    }
    p_ += word.size();
    *out = std::move(value);
    return true;
  }

  bool ParseNumber(Value* out) {
    const char* start = p_;
    bool negative = *p_ == '-';
    if (negative) ++p_;
    const char* digits = p_;
    if (p_ == end_ || !IsDigit(*p_)) return Fail(start, "invalid number");
    if (*p_ == '0') {
      ++p_;
      if (p_ != end_ && IsDigit(*p_)) return Fail(start, "invalid number (leading zero)");
    } else {
      while (p_ != end_ && IsDigit(*p_)) ++p_;
    }
    // Checked before the range so that 1e400 and 123456789012345678901.5 get the real reason.
    if (p_ != end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) {
      return Fail(start,
                  "floating-point numbers are not allowed in canonical JSON (only integers)");
    }
    auto count = static_cast<size_t>(p_ - digits);
    constexpr uint64_t kMaxPositive = static_cast<uint64_t>(INT64_MAX);
    // 19 digits always fit in uint64; more (no leading zeros) never fit in int64.
    uint64_t magnitude = 0;
    bool in_range = count <= 19;
    if (in_range) {
      for (const char* d = digits; d != p_; ++d) {
        magnitude = magnitude * 10 + static_cast<uint64_t>(*d - '0');
      }
      in_range = magnitude <= kMaxPositive + (negative ? 1 : 0);
    }
    if (!in_range) return Fail(start, "integer outside the signed 64-bit range");
    int64_t value;
    if (!negative) {
      value = static_cast<int64_t>(magnitude);
    } else if (magnitude == kMaxPositive + 1) {
      value = INT64_MIN;
    } else {
      value = -static_cast<int64_t>(magnitude);
    }
    out->v_.emplace<int64_t>(value);
    return true;
  }

  // Skips whole 8-byte words of plain string bytes (SWAR: no byte below 0x20, none >= 0x80, no
  // `"`, no `\`). Hex digests make up most of a targets role, so this is the hot loop. The
  // tests may flag a word that is in fact plain, never the reverse; the byte loop decides.
  void SkipPlainWords() {
    constexpr uint64_t kOnes = 0x0101010101010101u;
    constexpr uint64_t kHigh = 0x8080808080808080u;
    while (end_ - p_ >= 8) {
      uint64_t x;
      std::memcpy(&x, p_, 8);
      uint64_t quote = x ^ (kOnes * '"');
      uint64_t backslash = x ^ (kOnes * '\\');
      uint64_t special = ((x - kOnes * 0x20) & ~x) | ((quote - kOnes) & ~quote) |
                         ((backslash - kOnes) & ~backslash) | x;
      if ((special & kHigh) != 0) return;
      p_ += 8;
    }
  }

  // p_ is at the opening quote. Runs of bytes that need no decoding are appended in one call;
  // a string without escapes (every hash, key ID and most paths) is copied exactly once.
  bool ParseString(std::string* out) {
    const char* open = p_++;
    const char* run = p_;
    for (;;) {
      SkipPlainWords();
      while (p_ != end_ && kPlainStringByte[static_cast<uint8_t>(*p_)]) ++p_;
      if (p_ == end_) return Fail(open, "unterminated string");
      auto c = static_cast<uint8_t>(*p_);
      if (c == '"') {
        out->append(run, static_cast<size_t>(p_ - run));
        ++p_;
        return true;
      }
      if (c == '\\') {
        out->append(run, static_cast<size_t>(p_ - run));
        if (!ParseEscape(out)) return false;
        run = p_;
      } else if (c < 0x20) {
        return Fail(p_, "raw control character in string (must be escaped)");
      } else {
        size_t n = Utf8SequenceLength(p_, end_);
        if (n == 0) return Fail(p_, "invalid UTF-8 in string");
        p_ += n;
      }
    }
  }

  bool ParseHex4(uint32_t* cp) {
    if (end_ - p_ < 4) return Fail(p_, "truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = HexValue(p_[i]);
      if (h < 0) return Fail(p_ + i, "invalid hex digit in \\u escape");
      v = v << 4 | static_cast<uint32_t>(h);
    }
    p_ += 4;
    *cp = v;
    return true;
  }

  // p_ is at the backslash.
  bool ParseEscape(std::string* out) {
    const char* at = p_++;
    if (p_ == end_) return Fail(at, "unterminated string");
    char c = *p_++;
    switch (c) {
      case '"':
        out->push_back('"');
        return true;
      case '\\':
        out->push_back('\\');
        return true;
      case '/':
        out->push_back('/');
        return true;
      case 'b':
        out->push_back('\b');
        return true;
      case 'f':
        out->push_back('\f');
        return true;
      case 'n':
        out->push_back('\n');
        return true;
      case 'r':
        out->push_back('\r');
        return true;
      case 't':
        out->push_back('\t');
        return true;
      case 'u':
        break;
      default:
        return Fail(at, "invalid escape sequence");
    }
    uint32_t cp = 0;
    if (!ParseHex4(&cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return Fail(at, "lone low surrogate in \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') {
        return Fail(at, "high surrogate \\u escape not followed by a low surrogate");
      }
      p_ += 2;
      uint32_t low = 0;
      if (!ParseHex4(&low)) return false;
      if (low < 0xDC00 || low > 0xDFFF) {
        return Fail(at, "high surrogate \\u escape not followed by a low surrogate");
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    AppendUtf8(cp, out);
    return true;
  }

  bool EnterContainer(size_t depth) {
    if (depth > max_depth_) {
      return Fail(p_, "nesting deeper than " + std::to_string(max_depth_) + " levels",
                  ErrorKind::kLimitExceeded);
    }
    ++p_;
    SkipWhitespace();
    return true;
  }

  // Elements and members are collected on stacks shared by all levels, then moved into a
  // vector of exactly the right size: one allocation per container instead of one per growth
  // step, which dominates parse time for the many small objects of a targets role.
  bool ParseArray(Value* out, size_t depth) {
    if (!EnterContainer(depth)) return false;
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      out->v_.emplace<Array>();
      return true;
    }
    const size_t base = value_stack_.size();
    for (;;) {
      Value item;  // not parsed in place: nested containers may reallocate the stack
      if (!ParseValue(&item, depth)) return false;
      value_stack_.push_back(std::move(item));
      SkipWhitespace();
      if (p_ == end_) return Fail(p_, "unterminated array");
      if (*p_ == ',') {
        ++p_;
        SkipWhitespace();
      } else if (*p_ == ']') {
        ++p_;
        break;
      } else {
        return Fail(p_, "expected ',' or ']' in array");
      }
    }
    auto first = value_stack_.begin() + static_cast<ptrdiff_t>(base);
    out->v_.emplace<Array>(std::make_move_iterator(first),
                           std::make_move_iterator(value_stack_.end()));
    value_stack_.erase(first, value_stack_.end());
    return true;
  }

  // Members are collected in input order; input that is already sorted (all canonical JSON, and
  // what python-tuf writes) is checked for duplicates on the fly, with the exact offset.
  // Anything else is sorted once at the end and checked for adjacent duplicates.
  bool ParseObject(Value* out, size_t depth) {
    const char* open = p_;
    if (!EnterContainer(depth)) return false;
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      out->v_.emplace<Object>();
      return true;
    }
    const size_t base = member_stack_.size();
    bool sorted = true;
    for (;;) {
      if (p_ == end_ || *p_ != '"') return Fail(p_, "expected a string key in object");
      const char* key_at = p_;
      std::string key;
      if (!ParseString(&key)) return false;
      if (sorted && member_stack_.size() > base) {
        const std::string& last = member_stack_.back().first;
        if (last == key) return Fail(key_at, "duplicate object key " + KeyForMessage(key));
        if (key < last) sorted = false;
      }
      SkipWhitespace();
      if (p_ == end_ || *p_ != ':') return Fail(p_, "expected ':' after object key");
      ++p_;
      SkipWhitespace();
      Value value;
      if (!ParseValue(&value, depth)) return false;
      member_stack_.emplace_back(std::move(key), std::move(value));
      SkipWhitespace();
      if (p_ == end_) return Fail(p_, "unterminated object");
      if (*p_ == ',') {
        ++p_;
        SkipWhitespace();
      } else if (*p_ == '}') {
        ++p_;
        break;
      } else {
        return Fail(p_, "expected ',' or '}' in object");
      }
    }
    auto first = member_stack_.begin() + static_cast<ptrdiff_t>(base);
    Object members;
    members.reserve(static_cast<size_t>(member_stack_.end() - first));
    const size_t member_bytes = members.capacity() * sizeof(Member);
    AdviseHugePages(members.data(), member_bytes);  // only if large
    if (member_bytes >= kPrefaultMinBytes) PrefaultForWrite(members.data(), member_bytes);
    members.insert(members.end(), std::make_move_iterator(first),
                   std::make_move_iterator(member_stack_.end()));
    member_stack_.erase(first, member_stack_.end());
    if (!sorted) {
      std::sort(members.begin(), members.end(), MemberKeyLess);
      auto dup =
          std::adjacent_find(members.begin(), members.end(),
                             [](const Member& a, const Member& b) { return a.first == b.first; });
      if (dup != members.end()) {
        return Fail(
            open, "duplicate object key " + KeyForMessage(dup->first) + " in the object starting");
      }
    }
    out->v_.emplace<Object>(std::move(members));
    return true;
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  size_t max_depth_;
  Error error_;
  std::vector<Value> value_stack_;
  std::vector<Member> member_stack_;
};

Result<Value> Parse(std::string_view text, const ParseLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return MakeError(ErrorKind::kLimitExceeded, "JSON: document of " + std::to_string(text.size()) +
                                                    " bytes exceeds the limit of " +
                                                    std::to_string(limits.max_bytes));
  }
  // The tree takes two to three times the text (a targets role's many small objects and
  // strings): 72 MB for a 30 MB role of 100,000 targets.
  ScopedHugePageHeap huge_page_heap(text.size() >= kHugePageAdviceMinBytes / 2 ? 3 * text.size()
                                                                               : 0);
  return Parser(text, limits.max_depth).Run();
}

}  // namespace mdu::json
