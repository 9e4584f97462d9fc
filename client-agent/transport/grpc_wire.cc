#include "client-agent/transport/grpc_wire.h"

#include <algorithm>
#include <cstring>

namespace mdu::agent {

Status GrpcFrameReader::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (!in_message_) {
      const size_t take = std::min(prefix_.size() - prefix_size_, bytes.size());
      std::memcpy(prefix_.data() + prefix_size_, bytes.data(), take);
      prefix_size_ += take;
      bytes.remove_prefix(take);
      if (prefix_size_ < prefix_.size()) break;
      prefix_size_ = 0;
      if (prefix_[0] == 1) {
        return MakeError(malformed_kind_,
                         "the server sent a compressed gRPC message (compression was not "
                         "negotiated)");
      }
      if (prefix_[0] != 0) {
        return MakeError(malformed_kind_,
                         "malformed gRPC message prefix (flag " + std::to_string(prefix_[0]) + ")");
      }
      const uint32_t length = (uint32_t{prefix_[1]} << 24) | (uint32_t{prefix_[2]} << 16) |
                              (uint32_t{prefix_[3]} << 8) | uint32_t{prefix_[4]};
      if (length > max_message_bytes_) {
        return MakeError(ErrorKind::kLimitExceeded, "the server sent a gRPC message of " +
                                                        std::to_string(length) +
                                                        " bytes, more than the limit of " +
                                                        std::to_string(max_message_bytes_));
      }
      in_message_ = true;
      remaining_ = length;
      MDU_RETURN_IF_ERROR(handler_.OnMessageStart(length));
    } else {
      const size_t take = std::min<size_t>(remaining_, bytes.size());
      MDU_RETURN_IF_ERROR(handler_.OnMessageBytes(bytes.substr(0, take)));
      remaining_ -= static_cast<uint32_t>(take);
      bytes.remove_prefix(take);
    }
    if (remaining_ == 0) {
      in_message_ = false;
      ++messages_;
      MDU_RETURN_IF_ERROR(handler_.OnMessageEnd());
    }
  }
  return {};
}

Status TargetChunkDecoder::Malformed(std::string_view why) const {
  // Bytes that do not even decode are not the signed target (see grpc_fetcher.h).
  return MakeError(ErrorKind::kHashMismatch, "malformed TargetChunk: " + std::string(why));
}

Status TargetChunkDecoder::OnMessageStart(uint32_t length) {
  state_ = State::kKey;
  remaining_ = length;
  varint_ = 0;
  varint_shift_ = 0;
  to_skip_ = 0;
  group_depth_ = 0;
  data_seen_ = false;
  return handler_.OnChunkStart();
}

Status TargetChunkDecoder::OnMessageBytes(std::string_view bytes) {
  while (!bytes.empty()) {
    if (state_ == State::kData || state_ == State::kSkip) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(to_skip_, bytes.size()));
      if (state_ == State::kData) MDU_RETURN_IF_ERROR(handler_.OnData(bytes.substr(0, take)));
      to_skip_ -= take;
      remaining_ -= take;
      bytes.remove_prefix(take);
      if (to_skip_ == 0) state_ = State::kKey;
      continue;
    }
    // kKey, kVarint, kLength: one varint byte.
    const auto byte = static_cast<unsigned char>(bytes.front());
    bytes.remove_prefix(1);
    --remaining_;
    if (varint_shift_ == 63 && (byte & 0xfe) != 0) return Malformed("varint longer than 64 bits");
    varint_ |= static_cast<uint64_t>(byte & 0x7f) << varint_shift_;
    if ((byte & 0x80) != 0) {
      varint_shift_ += 7;
      continue;
    }
    const uint64_t value = varint_;
    varint_ = 0;
    varint_shift_ = 0;
    switch (state_) {
      case State::kKey:
        MDU_RETURN_IF_ERROR(OnKey(value));
        break;
      case State::kVarint:
        MDU_RETURN_IF_ERROR(OnVarintValue(value));
        break;
      default:
        MDU_RETURN_IF_ERROR(OnLengthValue(value));
        break;
    }
  }
  return {};
}

Status TargetChunkDecoder::OnKey(uint64_t key) {
  const uint64_t field = key >> 3;
  if (field == 0 || field > 0x1fffffff) return Malformed("invalid field number");
  field_ = static_cast<uint32_t>(field);
  switch (key & 7) {
    case 0:  // varint
      state_ = State::kVarint;
      return {};
    case 1:  // fixed64
    case 5:  // fixed32
      to_skip_ = (key & 7) == 1 ? 8 : 4;
      if (to_skip_ > remaining_) return Malformed("field runs past the message");
      state_ = State::kSkip;
      return {};
    case 2:  // length-delimited
      state_ = State::kLength;
      return {};
    case 3:  // start group (deprecated; skipped like any unknown field)
      if (group_depth_ == kMaxGroupDepth) return Malformed("groups nested too deep");
      groups_[static_cast<size_t>(group_depth_++)] = field_;
      return {};
    case 4:  // end group
      if (group_depth_ == 0 || groups_[static_cast<size_t>(group_depth_ - 1)] != field_) {
        return Malformed("unbalanced group");
      }
      --group_depth_;
      return {};
    default:
      return Malformed("invalid wire type " + std::to_string(key & 7));
  }
}

Status TargetChunkDecoder::OnVarintValue(uint64_t value) {
  state_ = State::kKey;
  if (group_depth_ != 0) return {};  // inside an unknown group
  if (field_ == 1) return handler_.OnOffset(value);
  if (field_ == 3) return handler_.OnTotalLength(value);
  return {};  // unknown
}

Status TargetChunkDecoder::OnLengthValue(uint64_t length) {
  if (length > remaining_) return Malformed("field runs past the message");
  state_ = length == 0 ? State::kKey : State::kSkip;
  to_skip_ = length;
  if (group_depth_ != 0 || field_ != 2) return {};  // unknown: skipped
  if (data_seen_) return Malformed("more than one data field");
  data_seen_ = true;
  if (length != 0) state_ = State::kData;
  return handler_.OnDataStart(length, remaining_ - length);
}

Status TargetChunkDecoder::OnMessageEnd() {
  if (state_ != State::kKey || varint_shift_ != 0 || group_depth_ != 0) {
    return Malformed("the message ends inside a field");
  }
  return handler_.OnChunkEnd();
}

}  // namespace mdu::agent
