#include "repo-server/upload_limits.h"

namespace mdu::server {

Status UploadBudget::ChargeTotal(uint64_t bytes, std::string_view what) {
  if (bytes > limits_.max_publish_bytes - total_) {
    return MakeError(ErrorKind::kLimitExceeded, "publish is larger than the server's cap of " +
                                                    std::to_string(limits_.max_publish_bytes) +
                                                    " bytes (at " + std::string(what) + ")");
  }
  total_ += bytes;
  return {};
}

Status UploadBudget::ChargeMetadata(std::string_view name, uint64_t bytes) {
  return ChargeTotal(bytes, name.substr(0, 200));
}

Status UploadBudget::ChargeTarget(std::string_view sha256, uint64_t bytes) {
  std::string_view id = sha256.substr(0, 64);
  if (id != target_) {
    target_ = std::string(id);
    target_bytes_ = 0;
  }
  if (bytes > limits_.max_target_bytes - target_bytes_) {
    return MakeError(ErrorKind::kLimitExceeded,
                     "target " + target_ + " is larger than the server's cap of " +
                         std::to_string(limits_.max_target_bytes) + " bytes per target");
  }
  MDU_RETURN_IF_ERROR(ChargeTotal(bytes, "target " + target_));
  target_bytes_ += bytes;
  return {};
}

}  // namespace mdu::server
