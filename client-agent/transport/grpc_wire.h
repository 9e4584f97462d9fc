// The bytes of a gRPC response body, decoded incrementally as libcurl hands them over:
//
//   GrpcFrameReader   the gRPC message framing (1 flag byte, 4-byte big-endian length, the
//                     message), fed with pieces of any size (a prefix or a message may be split
//                     across any number of pieces); hands each message's bytes on as they arrive.
//   TargetChunkDecoder  the protobuf wire format of mdu.v1.TargetChunk {uint64 offset = 1;
//                     bytes data = 2; uint64 total_length = 3;}, decoded field by field from those
//                     pieces, so the `data` bytes go on straight from libcurl's buffer (no copy
//                     of the up to 1 MiB chunk, no allocation per chunk). Unknown fields (any
//                     wire type, groups included) are skipped, as protobuf does.
//
// Limits and refusals (a server that sends them is broken or hostile):
//   - a message longer than `max_message_bytes` is refused from its prefix, before any of its
//     bytes is handed on (kLimitExceeded);
//   - a message with the compressed flag (we never negotiate compression) or a flag byte other
//     than 0/1 is refused (`malformed_kind`);
//   - TargetChunkDecoder refuses, with kHashMismatch, a varint longer than 10 bytes, a field
//     running past its message, field number 0, wire types 6/7, unbalanced groups, groups
//     nested deeper than 16, and a second `data` field in one message.
//
// Thread-safety: none; one reader per call.
#ifndef MDU_CLIENT_AGENT_TRANSPORT_GRPC_WIRE_H_
#define MDU_CLIENT_AGENT_TRANSPORT_GRPC_WIRE_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/common/error.h"

namespace mdu::agent {

// Receives the messages of a gRPC body, one after the other.
class GrpcMessageHandler {
 public:
  virtual ~GrpcMessageHandler() = default;
  // A message of `length` bytes starts (length <= the reader's limit).
  virtual Status OnMessageStart(uint32_t length) = 0;
  // The next bytes of the current message (never empty; their sizes add up to `length`).
  virtual Status OnMessageBytes(std::string_view bytes) = 0;
  // The current message is complete.
  virtual Status OnMessageEnd() = 0;
};

class GrpcFrameReader {
 public:
  GrpcFrameReader(GrpcMessageHandler& handler, uint32_t max_message_bytes,
                  ErrorKind malformed_kind = ErrorKind::kDownload)
      : handler_(handler), max_message_bytes_(max_message_bytes), malformed_kind_(malformed_kind) {}

  // The handler's first error, or a refusal (see the file comment). After an error the reader
  // must not be fed again.
  Status Feed(std::string_view bytes);
  // True when no prefix or message is half read (a body may only end here).
  bool at_boundary() const { return prefix_size_ == 0 && !in_message_; }
  uint64_t messages() const { return messages_; }

 private:
  GrpcMessageHandler& handler_;
  const uint32_t max_message_bytes_;
  const ErrorKind malformed_kind_;
  std::array<unsigned char, 5> prefix_{};
  size_t prefix_size_ = 0;
  bool in_message_ = false;
  uint32_t remaining_ = 0;  // of the current message
  uint64_t messages_ = 0;
};

// What a TargetChunk message holds, reported as it is decoded.
class TargetChunkHandler {
 public:
  virtual ~TargetChunkHandler() = default;
  virtual Status OnChunkStart() = 0;
  // Field 1 / field 3 (each may come more than once; the last one counts, as in protobuf).
  virtual Status OnOffset(uint64_t offset) = 0;
  virtual Status OnTotalLength(uint64_t total_length) = 0;
  // Field 2 starts: `size` bytes follow, then `bytes_after` more bytes of this message.
  virtual Status OnDataStart(uint64_t size, uint64_t bytes_after) = 0;
  virtual Status OnData(std::string_view piece) = 0;  // never empty
  virtual Status OnChunkEnd() = 0;
};

// A GrpcMessageHandler that decodes each message as a TargetChunk (see the file comment).
class TargetChunkDecoder final : public GrpcMessageHandler {
 public:
  explicit TargetChunkDecoder(TargetChunkHandler& handler) : handler_(handler) {}

  Status OnMessageStart(uint32_t length) override;
  Status OnMessageBytes(std::string_view bytes) override;
  Status OnMessageEnd() override;

 private:
  enum class State { kKey, kVarint, kLength, kData, kSkip };
  static constexpr int kMaxGroupDepth = 16;

  Status Malformed(std::string_view why) const;
  Status OnKey(uint64_t key);
  Status OnVarintValue(uint64_t value);
  Status OnLengthValue(uint64_t length);

  TargetChunkHandler& handler_;
  State state_ = State::kKey;
  uint64_t remaining_ = 0;  // bytes of the message not consumed yet
  // A varint being read (key, value or length).
  uint64_t varint_ = 0;
  int varint_shift_ = 0;
  uint32_t field_ = 0;                             // field of the current value
  uint64_t to_skip_ = 0;                           // kSkip / kData: bytes of the current value left
  std::array<uint32_t, kMaxGroupDepth> groups_{};  // open groups' field numbers
  int group_depth_ = 0;
  bool data_seen_ = false;
};

}  // namespace mdu::agent

#endif  // MDU_CLIENT_AGENT_TRANSPORT_GRPC_WIRE_H_
