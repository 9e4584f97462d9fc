// Upload caps of one publish stream: the bytes of all files together (metadata and targets)
// and the bytes of any one target. A publish over a cap is refused as soon as the chunk that
// crosses it arrives (RESOURCE_EXHAUSTED), before it is written to the staging area, so a
// publisher cannot fill the server's disk with one stream.
//
// Thread-safety: an UploadBudget belongs to one stream (one thread at a time).
#ifndef MDU_REPO_SERVER_UPLOAD_LIMITS_H_
#define MDU_REPO_SERVER_UPLOAD_LIMITS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "core/common/error.h"

namespace mdu::server {

struct UploadLimits {
  uint64_t max_publish_bytes = 8ull << 30;  // every byte of one publish
  uint64_t max_target_bytes = 4ull << 30;   // one target
};

class UploadBudget {
 public:
  explicit UploadBudget(UploadLimits limits) : limits_(limits) {}

  // Charges `bytes` of metadata. kLimitExceeded naming the cap when the publish goes over.
  Status ChargeMetadata(std::string_view name, uint64_t bytes);
  // Charges `bytes` of the target `sha256` (chunks of one target arrive consecutively).
  Status ChargeTarget(std::string_view sha256, uint64_t bytes);

  uint64_t total_bytes() const { return total_; }

 private:
  Status ChargeTotal(uint64_t bytes, std::string_view what);

  UploadLimits limits_;
  uint64_t total_ = 0;
  std::string target_;  // the target being received
  uint64_t target_bytes_ = 0;
};

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_UPLOAD_LIMITS_H_
