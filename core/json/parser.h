// Strict JSON parser (RFC 8259) producing json::Value.
//
// Rejects, with kBadMetadata and the byte offset in the message: invalid UTF-8, lone or
// mismatched UTF-16 surrogate escapes, raw control characters inside strings, duplicate object
// keys (a parser-differential attack vector), numbers with a fraction or exponent (canonical
// JSON cannot encode them), integers outside int64, leading byte-order marks, trailing content.
// Limits fail with kLimitExceeded. Never throws; never crashes on any input. "-0" is the integer
// 0. Thread-safety: Parse is reentrant.
#ifndef MDU_CORE_JSON_PARSER_H_
#define MDU_CORE_JSON_PARSER_H_

#include <cstddef>
#include <string_view>

#include "core/common/error.h"
#include "core/json/value.h"

namespace mdu::json {

struct ParseLimits {
  size_t max_bytes = 256u << 20;  // whole document
  size_t max_depth = 64;          // nesting of arrays and objects; capped at kMaxSupportedDepth
};

// The parser recurses once per nesting level; this cap keeps any limit a caller sets within a
// small, fixed stack budget.
inline constexpr size_t kMaxSupportedDepth = 1000;

Result<Value> Parse(std::string_view text, const ParseLimits& limits = {});

}  // namespace mdu::json

#endif  // MDU_CORE_JSON_PARSER_H_
