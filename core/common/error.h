// Errors as values: a kind to branch on (never branch on message text) and a message that
// names the role, the version and what was expected. Kinds follow the TUF error taxonomy
// (python-tuf's exceptions, go-tuf's error types) plus the I/O and argument kinds we need.
//
// Thread-safety: Error is a plain value type.
#ifndef MDU_CORE_COMMON_ERROR_H_
#define MDU_CORE_COMMON_ERROR_H_

#include <string>
#include <string_view>

#include "core/common/expected.h"

namespace mdu {

enum class ErrorKind {
  kUnsignedMetadata,  // signature threshold not met, or a signature does not verify
  kBadVersion,        // version not what the spec step requires (rollback, gap in root chain)
  kEqualVersion,      // new metadata has the same version as trusted: expected, not a failure
  kExpired,           // metadata expired at the reference time (freeze attack)
  kLengthMismatch,    // length differs from what trusted metadata says
  kHashMismatch,      // hash differs from what trusted metadata says (mix-and-match)
  kBadMetadata,       // malformed or invalid metadata: JSON, types, _type, spec_version, ...
  kDownload,          // the transport failed (connection, HTTP status, ...)
  kSlowRetrieval,     // the transport was slower than the configured minimum speed
  kLimitExceeded,     // more data than allowed (endless data), too deep, too many roles
  kNotFound,          // the requested thing does not exist (often expected: end of root chain)
  kIo,                // local file system error
  kCrypto,            // key material or crypto library failure (not a failed verification)
  kInvalidArgument,   // caller passed something unusable (bad target path, bad option)
  kPolicy,            // refused by a local policy (security version floor, window, ...)
  kInternal,          // a bug: an invariant did not hold
};

// The stable, machine-readable name of a kind, e.g. "bad_version". Used in --json output and
// device reports; never changes once released.
std::string_view ErrorKindName(ErrorKind kind);

class Error {
 public:
  Error() = default;
  Error(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}

  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message reads "<context>: <message>", keeping the kind. Use it as an
  // error travels up: Fetch(...) fails with "HTTP 404", the caller adds "snapshot version 4".
  Error WithContext(std::string_view context) const;

  // "<kind name>: <message>", for logs and command-line output.
  std::string ToString() const;

 private:
  ErrorKind kind_ = ErrorKind::kInternal;
  std::string message_;
};

template <class T>
using Result = Expected<T, Error>;
using Status = Expected<void, Error>;

inline Unexpected<Error> MakeError(ErrorKind kind, std::string message) {
  return Unexpected<Error>(Error(kind, std::move(message)));
}
inline Unexpected<Error> MakeError(Error error) { return Unexpected<Error>(std::move(error)); }

}  // namespace mdu

// Propagates the error of an expression returning Status/Result<T>; for Result<T> use
// MDU_ASSIGN_OR_RETURN. Keeps the verification path free of exceptions.
#define MDU_RETURN_IF_ERROR(expr)                                      \
  do {                                                                 \
    auto mdu_status_ = (expr);                                         \
    if (!mdu_status_) return ::mdu::MakeError(std::move(mdu_status_).error()); \
  } while (0)

#define MDU_CONCAT_INNER_(a, b) a##b
#define MDU_CONCAT_(a, b) MDU_CONCAT_INNER_(a, b)
#define MDU_ASSIGN_OR_RETURN(lhs, expr)                                        \
  auto MDU_CONCAT_(mdu_result_, __LINE__) = (expr);                            \
  if (!MDU_CONCAT_(mdu_result_, __LINE__))                                     \
    return ::mdu::MakeError(std::move(MDU_CONCAT_(mdu_result_, __LINE__)).error()); \
  lhs = std::move(MDU_CONCAT_(mdu_result_, __LINE__)).value()

#endif  // MDU_CORE_COMMON_ERROR_H_
