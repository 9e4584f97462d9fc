// Two serializations of json::Value.
//
// Canonical: the OLPC canonical JSON of securesystemslib's encode_canonical and tuf-js's
// canonicalize, byte for byte: object keys sorted by code point, no whitespace, only `"` and `\`
// escaped, every other byte (control characters, DEL, non-ASCII UTF-8) written raw. This is
// what signatures and key IDs are computed over; nothing else may be used for that.
//
// Standard: RFC 8259 JSON for files on disk and on the wire (control characters escaped, so
// any JSON parser, including python's json module, reads it). Keys sorted; `indent` 0 writes a
// compact form (":" and ","), otherwise one member per line with that many spaces per level and
// ": " after keys, like python's json.dumps(indent=N, sort_keys=True, ensure_ascii=False).
// A negative indent is treated as 0. Empty containers are written as [] and {}.
//
// Both write into one string reserved up front; AppendCanonical appends to *out. Strings are
// written as their bytes: a Value built (not parsed) from invalid UTF-8 yields output that Parse
// rejects. Neither function fails; both are reentrant.
#ifndef MDU_CORE_JSON_WRITER_H_
#define MDU_CORE_JSON_WRITER_H_

#include <string>

#include "core/common/page_advice.h"
#include "core/json/value.h"

namespace mdu::json {

std::string Canonical(const Value& value);
void AppendCanonical(const Value& value, std::string* out);
// The same bytes as Canonical, in a buffer for multi-megabyte output that is checked and
// dropped (the signed part of a large role): from 2 MiB it is written into huge pages instead
// of a page fault every 4 KiB (core/common/page_advice.h).
HugePageString CanonicalInHugePages(const Value& value);

std::string Serialize(const Value& value, int indent = 0);

}  // namespace mdu::json

#endif  // MDU_CORE_JSON_WRITER_H_
