#include "client-agent/transport/grpc_fetcher.h"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <cctype>
#include <charconv>
#include <utility>

#include "client-agent/report/wire_messages.h"
#include "client-agent/transport/grpc_call.h"
#include "client-agent/transport/grpc_wire.h"
#include "client-agent/transport/url.h"
#include "core/common/loopback.h"
#include "core/io/file.h"

namespace mdu::agent {
namespace {

// The server's largest metadata file (16 MiB) plus the message framing.
constexpr uint32_t kMaxMetadataMessageBytes = (16 << 20) + (64 << 10);
// A target chunk: at most 1 MiB of data plus its fields.
constexpr uint32_t kMaxChunkMessageBytes = (1 << 20) + 64;
constexpr uint64_t kMaxPemBytes = 1 << 20;
constexpr std::string_view kGetMetadata = "/mdu.v1.DeviceService/GetMetadata";
constexpr std::string_view kGetTarget = "/mdu.v1.DeviceService/GetTarget";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = HexValue(text[i + 1]);
    const int low = HexValue(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

bool IsSha256Hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

// gRPC status -> ErrorKind (see the header).
Error StatusError(const GrpcStatus& status, const std::string& url) {
  const std::string text =
      "gRPC " + GrpcCodeName(status.code) + " for " + url + ": " + status.message;
  switch (status.code) {
    case 5:  // NOT_FOUND
      return Error(ErrorKind::kNotFound, text);
    case 4:  // DEADLINE_EXCEEDED
      return Error(ErrorKind::kSlowRetrieval, text);
    case 8:  // RESOURCE_EXHAUSTED
      return Error(ErrorKind::kLimitExceeded, text);
    default:
      return Error(ErrorKind::kDownload, text);
  }
}

Result<std::string> ReadPem(const std::filesystem::path& path, std::string_view what) {
  Result<std::string> bytes = io::ReadFileBounded(path, kMaxPemBytes);
  if (!bytes) return MakeError(bytes.error().WithContext("reading the " + std::string(what)));
  if (bytes->find("-----BEGIN ") == std::string::npos) {
    return MakeError(ErrorKind::kInvalidArgument,
                     std::string(what) + " " + path.string() + " is not a PEM file");
  }
  return bytes;
}

void Wipe(std::string& secret) {
  if (!secret.empty()) explicit_bzero(secret.data(), secret.size());
  secret.clear();
}

// The checks of a GetTarget stream, fed by TargetChunkDecoder as the bytes arrive: consecutive
// offsets from the requested one, the announced total and the bytes within max_length,
// on_start once before the first byte reaches the sink.
class TargetStream final : public TargetChunkHandler {
 public:
  TargetStream(const std::string& shown, uint64_t offset, uint64_t max_length,
               const client::StartSink& on_start, const client::ChunkSink& sink)
      : shown_(shown),
        offset_(offset),
        position_(offset),
        max_length_(max_length),
        on_start_(on_start),
        sink_(sink) {}

  Status OnChunkStart() override {
    chunk_start_ = position_;
    chunk_offset_ = 0;  // protobuf's default when the field is absent
    total_length_ = 0;
    data_seen_ = false;
    return {};
  }
  Status OnOffset(uint64_t offset) override {
    chunk_offset_ = offset;
    // After the data the offset can only confirm where the data went.
    if (data_seen_) return CheckOffset();
    return {};
  }
  Status OnTotalLength(uint64_t total_length) override {
    total_length_ = total_length;
    return {};
  }
  Status OnDataStart(uint64_t size, uint64_t bytes_after) override {
    data_seen_ = true;
    MDU_RETURN_IF_ERROR(CheckOffset());
    if (size > max_length_ - position_) {
      return MakeError(ErrorKind::kLimitExceeded, shown_ + " sent more than the limit of " +
                                                      std::to_string(max_length_) + " bytes");
    }
    if (!started_) {
      // repo-server sends total_length before the data, so nothing follows it here and the
      // data streams at once. From a server that sends it after the data (protobuf's field
      // order, older repo-servers), the first chunk is held until it is known.
      if (bytes_after == 0) return Start();
      held_.reserve(static_cast<size_t>(size));
    }
    return {};
  }
  Status OnData(std::string_view piece) override {
    position_ += piece.size();
    if (!started_) {
      held_.append(piece);
      return {};
    }
    return sink_(piece);
  }
  Status OnChunkEnd() override {
    MDU_RETURN_IF_ERROR(CheckOffset());
    if (!started_) {
      MDU_RETURN_IF_ERROR(Start());
      if (!held_.empty()) {
        Status sunk = sink_(held_);
        std::string().swap(held_);  // the one held chunk is released at once
        MDU_RETURN_IF_ERROR(sunk);
      }
    }
    return {};
  }

  // At the end of a call that the server completed with OK.
  Status Finish() {
    if (!started_) return Start();
    return {};
  }
  uint64_t received() const { return position_ - offset_; }

 private:
  Status CheckOffset() const {
    if (chunk_offset_ == chunk_start_) return {};
    // A server placing bytes elsewhere than asked is not sending the signed target.
    return MakeError(ErrorKind::kHashMismatch, shown_ + ": chunk at byte " +
                                                   std::to_string(chunk_offset_) + ", expected " +
                                                   std::to_string(chunk_start_));
  }
  Status Start() {
    if (total_length_ > max_length_) {
      return MakeError(ErrorKind::kLimitExceeded,
                       shown_ + " announces " + std::to_string(total_length_) +
                           " bytes, more than the limit of " + std::to_string(max_length_));
    }
    started_ = true;
    return on_start_(offset_);
  }

  const std::string& shown_;
  const uint64_t offset_;
  uint64_t position_;
  const uint64_t max_length_;
  const client::StartSink& on_start_;
  const client::ChunkSink& sink_;
  bool started_ = false;
  uint64_t chunk_start_ = 0;
  uint64_t chunk_offset_ = 0;
  uint64_t total_length_ = 0;
  bool data_seen_ = false;
  std::string held_;
};

}  // namespace

Result<GrpcRequest> ParseGrpcUrl(std::string_view url) {
  const std::string shown = RedactUrl(url.substr(0, 300));
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorKind::kInvalidArgument, "gRPC URL " + shown + ": " + std::string(why));
  };
  GrpcRequest request;
  const std::string scheme = UrlScheme(url);
  if (scheme == "grpcs") {
    request.tls = true;
  } else if (scheme == "grpc") {
    request.tls = false;
  } else {
    return bad("scheme must be grpcs:// (TLS) or grpc:// (plaintext, loopback only)");
  }
  std::string_view rest = url.substr(scheme.size() + 3);
  if (url.substr(scheme.size(), 3) != "://") return bad("expected ://");
  if (rest.find_first_of("?#") != std::string_view::npos) return bad("has a query or fragment");
  const size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.empty()) return bad("has no host");
  if (authority.find('@') != std::string_view::npos) return bad("must not carry credentials");
  const size_t colon = authority.rfind(':');
  const size_t bracket = authority.rfind(']');
  if (colon == std::string_view::npos || (bracket != std::string_view::npos && colon < bracket)) {
    return bad("needs an explicit port (HOST:PORT)");
  }
  const std::string_view host = authority.substr(0, colon);
  const std::string_view port = authority.substr(colon + 1);
  unsigned port_number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (host.empty() || port.empty() || ec != std::errc() || end != port.data() + port.size() ||
      port_number == 0 || port_number > 65535) {
    return bad("needs HOST:PORT with a port in 1..65535");
  }
  if (!request.tls && !IsLoopbackHost(host)) {
    return bad("plaintext grpc:// is only allowed to a loopback host; use grpcs://");
  }
  request.authority = std::string(authority);

  constexpr std::string_view kMetadata = "/metadata/";
  constexpr std::string_view kTargets = "/targets/";
  if (path.substr(0, kMetadata.size()) == kMetadata) {
    request.kind = GrpcRequest::Kind::kMetadata;
    std::string_view name = path.substr(kMetadata.size());
    constexpr std::string_view kJson = ".json";
    if (name.find('/') != std::string_view::npos || name.size() <= kJson.size() ||
        name.substr(name.size() - kJson.size()) != kJson) {
      return bad("metadata must be named [N.]ROLE.json");
    }
    name.remove_suffix(kJson.size());
    const size_t dot = name.find('.');
    if (dot != std::string_view::npos && dot > 0 && dot + 1 < name.size()) {
      int64_t version = 0;
      const auto [v_end, v_ec] = std::from_chars(name.data(), name.data() + dot, version);
      if (v_ec == std::errc() && v_end == name.data() + dot && version > 0) {
        request.version = version;
        name.remove_prefix(dot + 1);
      }
    }
    std::optional<std::string> role = PercentDecode(name);
    if (!role || role->empty()) return bad("malformed role name");
    request.role = std::move(*role);
    return request;
  }
  if (path.substr(0, kTargets.size()) == kTargets) {
    request.kind = GrpcRequest::Kind::kTarget;
    const std::string_view target = path.substr(kTargets.size());
    if (target.empty()) return bad("names no target");
    const size_t last = target.rfind('/');
    const std::string_view file = last == std::string_view::npos ? target : target.substr(last + 1);
    if (file.size() > 65 && file[64] == '.' && IsSha256Hex(file.substr(0, 64))) {
      request.sha256 = std::string(file.substr(0, 64));
    } else {
      request.path = std::string(target);
    }
    return request;
  }
  return bad("path must start with /metadata/ or /targets/");
}

struct GrpcFetcher::Impl {
  std::unique_ptr<GrpcClient> client;
};

Result<std::unique_ptr<GrpcFetcher>> GrpcFetcher::Create(GrpcFetcherOptions options) {
  if (options.low_speed_limit > 0 && options.low_speed_time.count() <= 0) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "low_speed_time must be positive when low_speed_limit is set");
  }
  if (options.client_cert_file.has_value() != options.client_key_file.has_value()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "a client certificate needs its key and the reverse (mutual TLS)");
  }
  GrpcClientOptions client;
  client.connect_timeout = options.connect_timeout;
  client.tls_server_name = options.tls_server_name;
  if (options.ca_file) {
    MDU_ASSIGN_OR_RETURN(client.ca_pem, ReadPem(*options.ca_file, "CA file"));
  }
  if (options.client_cert_file) {
    MDU_ASSIGN_OR_RETURN(client.cert_pem, ReadPem(*options.client_cert_file, "client certificate"));
    Result<std::string> key = ReadPem(*options.client_key_file, "client key");
    if (!key) return MakeError(key.error());
    client.key_pem = std::move(*key);  // moved: the client owns (and wipes) the only copy
    Wipe(*key);
  }
  auto impl = std::make_unique<Impl>();
  MDU_ASSIGN_OR_RETURN(impl->client, GrpcClient::Create(std::move(client)));
  return std::unique_ptr<GrpcFetcher>(new GrpcFetcher(std::move(options), std::move(impl)));
}

GrpcFetcher::GrpcFetcher(GrpcFetcherOptions options, std::unique_ptr<Impl> impl)
    : options_(std::move(options)), impl_(std::move(impl)) {}

GrpcFetcher::~GrpcFetcher() = default;

Status GrpcFetcher::Fetch(std::string_view url, uint64_t max_length,
                          const client::ChunkSink& sink) {
  return FetchFrom(
      url, 0, max_length, [](uint64_t) -> Status { return {}; }, sink);
}

Status GrpcFetcher::FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                              const client::StartSink& on_start, const client::ChunkSink& sink) {
  MDU_ASSIGN_OR_RETURN(GrpcRequest request, ParseGrpcUrl(url));
  if (offset > max_length) {
    return MakeError(ErrorKind::kInvalidArgument, "offset " + std::to_string(offset) +
                                                      " is beyond the limit of " +
                                                      std::to_string(max_length) + " bytes");
  }
  const std::string shown = RedactUrl(url);
  const GrpcEndpoint endpoint{request.tls, request.authority};
  GrpcCallLimits limits;
  limits.timeout = options_.total_timeout;
  limits.low_speed_limit = options_.low_speed_limit;
  limits.low_speed_time = options_.low_speed_time;

  if (request.kind == GrpcRequest::Kind::kMetadata) {
    // One message: the deadline also stands in for the minimum speed.
    std::chrono::seconds limit = options_.total_timeout;
    if (options_.low_speed_limit > 0) {
      const auto slowest =
          options_.low_speed_time + std::chrono::seconds(max_length / options_.low_speed_limit + 1);
      if (limit.count() == 0 || slowest < limit) limit = slowest;
    }
    limits.timeout = limit;
    // A response that cannot fit is refused from its prefix (content plus a few bytes of
    // framing), before it is received.
    limits.max_message_bytes =
        max_length >= kMaxMetadataMessageBytes
            ? kMaxMetadataMessageBytes
            : static_cast<uint32_t>(std::min<uint64_t>(kMaxMetadataMessageBytes, max_length + 16));
    wire::GetMetadataRequest get;
    get.set_role(request.role);
    get.set_version(request.version);
    UnaryResponse response;
    Result<GrpcStatus> status = impl_->client->Call(endpoint, kGetMetadata, get.SerializeAsString(),
                                                    limits, response, shown);
    if (!status) {
      if (status.error().kind() == ErrorKind::kLimitExceeded) {
        return MakeError(ErrorKind::kLimitExceeded, shown + " is more than the limit of " +
                                                        std::to_string(max_length) + " bytes (" +
                                                        status.error().message() + ")");
      }
      return MakeError(status.error());
    }
    if (!status->ok()) return MakeError(StatusError(*status, shown));
    if (!response.received()) {
      return MakeError(ErrorKind::kDownload, shown + ": the server answered OK without a message");
    }
    wire::GetMetadataResponse answer;
    if (!answer.ParseFromArray(response.bytes().data(),
                               static_cast<int>(response.bytes().size()))) {
      return MakeError(ErrorKind::kDownload, shown + ": malformed GetMetadataResponse");
    }
    const std::string& content = answer.content();
    if (content.size() > max_length) {
      return MakeError(ErrorKind::kLimitExceeded, shown + " is " + std::to_string(content.size()) +
                                                      " bytes, more than the limit of " +
                                                      std::to_string(max_length));
    }
    MDU_RETURN_IF_ERROR(on_start(0));  // metadata is never resumed
    if (content.empty()) return {};
    return sink(content);
  }

  wire::GetTargetRequest get;
  if (!request.sha256.empty()) {
    get.set_sha256(request.sha256);
  } else {
    get.set_path(request.path);
  }
  get.set_offset(offset);
  limits.max_message_bytes = kMaxChunkMessageBytes;
  limits.malformed_kind = ErrorKind::kHashMismatch;
  TargetStream stream(shown, offset, max_length, on_start, sink);
  TargetChunkDecoder decoder(stream);
  Result<GrpcStatus> status =
      impl_->client->Call(endpoint, kGetTarget, get.SerializeAsString(), limits, decoder, shown);
  if (!status) return MakeError(status.error());
  if (!status->ok()) {
    if (status->code == 4) {  // DEADLINE_EXCEEDED: the server saw the deadline pass first
      return MakeError(ErrorKind::kSlowRetrieval,
                       shown + ": not complete after " +
                           std::to_string(options_.total_timeout.count()) + " s (" +
                           std::to_string(stream.received()) + " bytes received)");
    }
    return MakeError(StatusError(*status, shown));
  }
  return stream.Finish();
}

}  // namespace mdu::agent
