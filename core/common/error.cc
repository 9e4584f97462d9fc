#include "core/common/error.h"

namespace mdu {

std::string_view ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUnsignedMetadata: return "unsigned_metadata";
    case ErrorKind::kBadVersion: return "bad_version";
    case ErrorKind::kEqualVersion: return "equal_version";
    case ErrorKind::kExpired: return "expired";
    case ErrorKind::kLengthMismatch: return "length_mismatch";
    case ErrorKind::kHashMismatch: return "hash_mismatch";
    case ErrorKind::kBadMetadata: return "bad_metadata";
    case ErrorKind::kDownload: return "download";
    case ErrorKind::kSlowRetrieval: return "slow_retrieval";
    case ErrorKind::kLimitExceeded: return "limit_exceeded";
    case ErrorKind::kNotFound: return "not_found";
    case ErrorKind::kIo: return "io";
    case ErrorKind::kCrypto: return "crypto";
    case ErrorKind::kInvalidArgument: return "invalid_argument";
    case ErrorKind::kPolicy: return "policy";
    case ErrorKind::kInternal: return "internal";
  }
  return "internal";
}

Error Error::WithContext(std::string_view context) const {
  std::string message(context);
  message += ": ";
  message += message_;
  return Error(kind_, std::move(message));
}

std::string Error::ToString() const {
  std::string out(ErrorKindName(kind_));
  out += ": ";
  out += message_;
  return out;
}

}  // namespace mdu
