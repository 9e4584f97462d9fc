// Lowercase hexadecimal encoding, as TUF writes hashes, key bytes and signatures.
#ifndef MDU_CORE_COMMON_HEX_H_
#define MDU_CORE_COMMON_HEX_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"

namespace mdu {

std::string HexEncode(std::span<const uint8_t> bytes);
inline std::string HexEncode(std::string_view bytes) {
  return HexEncode(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

// Accepts upper and lower case; fails with kInvalidArgument on odd length or a non-hex digit.
Result<std::vector<uint8_t>> HexDecode(std::string_view hex);

inline std::span<const uint8_t> AsBytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

}  // namespace mdu

#endif  // MDU_CORE_COMMON_HEX_H_
