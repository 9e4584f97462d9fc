// GrpcFrameReader and TargetChunkDecoder (client-agent/transport/grpc_wire.h) on hand-made
// bytes: every split of a body (down to one byte per Feed) gives the same messages, limits are
// enforced from the prefix, and TargetChunk fields are decoded as protobuf does (unknown fields
// skipped, malformed encodings refused).
#include "client-agent/transport/grpc_wire.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client-agent/report/wire_messages.h"
#include "client-agent/transport/grpc_call.h"
#include "tests/sim/test_util.h"
#include "tests/unit/agent/h2_test_server.h"

namespace mdu::agent {
namespace {

// The 5-byte prefix (flag, big-endian length) + message, as the test server sends it.
using testing::GrpcFrame;

std::string Varint(uint64_t value) {
  std::string out;
  for (; value >= 0x80; value >>= 7) out.push_back(static_cast<char>((value & 0x7f) | 0x80));
  out.push_back(static_cast<char>(value));
  return out;
}

std::string Key(uint32_t field, int wire_type) { return Varint(uint64_t{field} << 3 | wire_type); }

// Records what the reader hands on.
class Collector final : public GrpcMessageHandler {
 public:
  Status OnMessageStart(uint32_t length) override {
    messages.emplace_back();
    lengths.push_back(length);
    return {};
  }
  Status OnMessageBytes(std::string_view bytes) override {
    EXPECT_FALSE(bytes.empty());
    messages.back().append(bytes);
    return {};
  }
  Status OnMessageEnd() override {
    ++ended;
    return {};
  }
  std::vector<std::string> messages;
  std::vector<uint32_t> lengths;
  int ended = 0;
};

// Feeds `body` in pieces of `step` bytes.
Status FeedInSteps(GrpcFrameReader& reader, const std::string& body, size_t step) {
  for (size_t at = 0; at < body.size(); at += step) {
    MDU_RETURN_IF_ERROR(reader.Feed(std::string_view(body).substr(at, step)));
  }
  return {};
}

TEST(GrpcFrameReaderTest, AnySplitGivesTheSameMessages) {
  const std::string body =
      GrpcFrame("hello") + GrpcFrame("") + GrpcFrame(std::string(70000, 'x')) + GrpcFrame("!");
  for (size_t step :
       {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{7}, size_t{4096}, body.size()}) {
    SCOPED_TRACE(step);
    Collector collector;
    GrpcFrameReader reader(collector, 1 << 20);
    ASSERT_OK(FeedInSteps(reader, body, step));
    EXPECT_TRUE(reader.at_boundary());
    EXPECT_EQ(reader.messages(), 4u);
    ASSERT_EQ(collector.messages.size(), 4u);
    EXPECT_EQ(collector.messages[0], "hello");
    EXPECT_EQ(collector.messages[1], "");
    EXPECT_EQ(collector.messages[2], std::string(70000, 'x'));
    EXPECT_EQ(collector.messages[3], "!");
    EXPECT_EQ(collector.ended, 4);
  }
}

TEST(GrpcFrameReaderTest, APrefixSplitByteByByteIsNotABoundary) {
  const std::string body = GrpcFrame("abc");
  Collector collector;
  GrpcFrameReader reader(collector, 100);
  for (size_t i = 0; i + 1 < body.size(); ++i) {
    ASSERT_OK(reader.Feed(body.substr(i, 1)));
    EXPECT_FALSE(reader.at_boundary()) << "after " << i + 1 << " bytes";
  }
  ASSERT_OK(reader.Feed(body.substr(body.size() - 1)));
  EXPECT_TRUE(reader.at_boundary());
}

TEST(GrpcFrameReaderTest, OversizedMessageIsRefusedFromItsPrefix) {
  Collector collector;
  GrpcFrameReader reader(collector, 1000);
  // Only the prefix arrives: the refusal must not wait for (or buffer) the message.
  const std::string prefix = GrpcFrame(std::string(1001, 'x')).substr(0, 5);
  EXPECT_ERROR_KIND(reader.Feed(prefix), ErrorKind::kLimitExceeded);
  EXPECT_TRUE(collector.messages.empty());
  // Exactly the limit is fine.
  Collector ok;
  GrpcFrameReader exact(ok, 1000);
  EXPECT_OK(exact.Feed(GrpcFrame(std::string(1000, 'x'))));
}

TEST(GrpcFrameReaderTest, CompressedOrUnknownFlagIsRefused) {
  Collector collector;
  GrpcFrameReader reader(collector, 1000, ErrorKind::kHashMismatch);
  EXPECT_ERROR_KIND(reader.Feed(GrpcFrame("abc", 1)), ErrorKind::kHashMismatch);
  EXPECT_TRUE(collector.messages.empty());
  GrpcFrameReader other(collector, 1000);
  EXPECT_ERROR_KIND(other.Feed(GrpcFrame("abc", 2)), ErrorKind::kDownload);
}

// Records a TargetChunk's fields.
class ChunkRecorder final : public TargetChunkHandler {
 public:
  Status OnChunkStart() override {
    ++chunks;
    return {};
  }
  Status OnOffset(uint64_t value) override {
    offsets.push_back(value);
    return {};
  }
  Status OnTotalLength(uint64_t value) override {
    totals.push_back(value);
    return {};
  }
  Status OnDataStart(uint64_t size, uint64_t after) override {
    data_sizes.push_back(size);
    bytes_after.push_back(after);
    return {};
  }
  Status OnData(std::string_view piece) override {
    EXPECT_FALSE(piece.empty());
    data.append(piece);
    ++pieces;
    return {};
  }
  Status OnChunkEnd() override {
    ++ended;
    return {};
  }
  int chunks = 0;
  int ended = 0;
  int pieces = 0;
  std::vector<uint64_t> offsets, totals, data_sizes, bytes_after;
  std::string data;
};

Status Decode(const std::string& message, ChunkRecorder& recorder, size_t step = 1) {
  TargetChunkDecoder decoder(recorder);
  GrpcFrameReader reader(decoder, 2 << 20, ErrorKind::kHashMismatch);
  return FeedInSteps(reader, GrpcFrame(message), step);
}

TEST(TargetChunkDecoderTest, DecodesWhatProtobufWrites) {
  wire::TargetChunk chunk;
  chunk.set_offset(5 * (1 << 20));
  chunk.set_data(std::string(300000, 'd'));
  chunk.set_total_length(uint64_t{1} << 40);
  const std::string bytes = chunk.SerializeAsString();
  for (size_t step : {size_t{1}, size_t{13}, size_t{16384}, bytes.size() + 5}) {
    SCOPED_TRACE(step);
    ChunkRecorder recorder;
    ASSERT_OK(Decode(bytes, recorder, step));
    EXPECT_EQ(recorder.chunks, 1);
    EXPECT_EQ(recorder.ended, 1);
    EXPECT_EQ(recorder.offsets, std::vector<uint64_t>{5 * (1 << 20)});
    EXPECT_EQ(recorder.totals, std::vector<uint64_t>{uint64_t{1} << 40});
    EXPECT_EQ(recorder.data, chunk.data());
    ASSERT_EQ(recorder.data_sizes.size(), 1u);
    EXPECT_EQ(recorder.data_sizes[0], 300000u);
    EXPECT_EQ(recorder.bytes_after[0], 1u + Varint(uint64_t{1} << 40).size());
  }
}

TEST(TargetChunkDecoderTest, DataIsHandedOnInPiecesAsItArrives) {
  wire::TargetChunk chunk;
  chunk.set_data(std::string(100000, 'p'));
  ChunkRecorder recorder;
  ASSERT_OK(Decode(chunk.SerializeAsString(), recorder, 16384));
  EXPECT_EQ(recorder.data.size(), 100000u);
  EXPECT_GE(recorder.pieces, 6);  // not collected into one piece
}

TEST(TargetChunkDecoderTest, SkipsUnknownFieldsOfEveryWireType) {
  std::string message;
  message += Key(9, 0) + Varint(uint64_t{1} << 63);  // varint
  message += Key(10, 1) + std::string(8, '\x01');    // fixed64
  message += Key(11, 2) + Varint(4) + "junk";        // length-delimited
  message += Key(12, 5) + std::string(4, '\x02');    // fixed32
  message += Key(13, 3) + Key(1, 0) + Varint(77) + Key(2, 2) + Varint(1) + "g" + Key(13, 4);
  message += Key(1, 0) + Varint(42);         // offset
  message += Key(2, 2) + Varint(3) + "abc";  // data
  message += Key(1, 2) + Varint(2) + "xx";   // offset with the wrong wire type
  message += Key(3, 0) + Varint(45);         // total_length
  for (size_t step : {size_t{1}, message.size()}) {
    ChunkRecorder recorder;
    ASSERT_OK(Decode(message, recorder, step));
    EXPECT_EQ(recorder.offsets, std::vector<uint64_t>{42});  // the group's field 1 is not ours
    EXPECT_EQ(recorder.totals, std::vector<uint64_t>{45});
    EXPECT_EQ(recorder.data, "abc");
  }
  // The same bytes parse in protobuf (the decoder agrees with it).
  wire::TargetChunk parsed;
  ASSERT_TRUE(parsed.ParseFromString(message));
  EXPECT_EQ(parsed.offset(), 42u);
  EXPECT_EQ(parsed.data(), "abc");
}

TEST(TargetChunkDecoderTest, RefusesMalformedEncodings) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"varint of 11 bytes", Key(1, 0) + std::string(10, '\x80') + '\x01'},
      {"varint overflowing 64 bits", Key(1, 0) + std::string(9, '\xff') + '\x02'},
      {"varint cut by the message end", Key(1, 0) + "\x80"},
      {"key cut by the message end", "\x80"},
      {"length past the message", Key(2, 2) + Varint(10) + "abc"},
      {"fixed64 past the message", Key(9, 1) + "abc"},
      {"field number 0", Key(0, 0) + Varint(1)},
      {"wire type 6", Key(9, 6) + Varint(1)},
      {"wire type 7", Key(9, 7) + Varint(1)},
      {"end group without start", Key(9, 4)},
      {"group never ended", Key(9, 3) + Key(1, 0) + Varint(1)},
      {"mismatched group end", Key(9, 3) + Key(8, 4)},
      {"two data fields", Key(2, 2) + Varint(1) + "a" + Key(2, 2) + Varint(1) + "b"},
  };
  for (const auto& [name, message] : cases) {
    SCOPED_TRACE(name);
    ChunkRecorder recorder;
    EXPECT_ERROR_KIND(Decode(message, recorder), ErrorKind::kHashMismatch);
  }
  std::string deep;
  for (int i = 0; i < 17; ++i) deep += Key(9, 3);
  ChunkRecorder recorder;
  EXPECT_ERROR_KIND(Decode(deep, recorder), ErrorKind::kHashMismatch);
}

TEST(GrpcMessageTextTest, IsDecodedTruncatedAndFreeOfControls) {
  EXPECT_EQ(CleanGrpcMessage("no%20such%20role"), "no such role");
  EXPECT_EQ(CleanGrpcMessage("line%0Abreak\x01"), "line break ");
  EXPECT_EQ(CleanGrpcMessage("bad%zzescape%"), "bad%zzescape%");
  EXPECT_EQ(CleanGrpcMessage(std::string(5000, 'm')).size(), 1000u);
  EXPECT_EQ(GrpcCodeName(5), "NOT_FOUND");
  EXPECT_EQ(GrpcCodeName(99), "CODE_99");
}

}  // namespace
}  // namespace mdu::agent
