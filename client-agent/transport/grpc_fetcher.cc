#include "client-agent/transport/grpc_fetcher.h"

#include <grpcpp/grpcpp.h>
#include <string.h>  // explicit_bzero

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "client-agent/transport/url.h"
#include "core/common/loopback.h"
#include "core/io/file.h"
#include "mdu/v1/repository.grpc.pb.h"

namespace mdu::agent {
namespace {

namespace v1 = ::mdu::v1;

// The server's largest metadata file (16 MiB) plus the message framing.
constexpr int kMaxMessageBytes = (16 << 20) + (64 << 10);
constexpr uint64_t kMaxPemBytes = 1 << 20;

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

std::string_view CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN_CODE";
  }
}

Error StatusError(const grpc::Status& status, const std::string& url) {
  std::string message = status.error_message().substr(0, 1000);
  for (char& c : message) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  const std::string text =
      "gRPC " + std::string(CodeName(status.error_code())) + " for " + url + ": " + message;
  switch (status.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
      return Error(ErrorKind::kNotFound, text);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Error(ErrorKind::kSlowRetrieval, text);
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return Error(ErrorKind::kLimitExceeded, text);
    default:
      return Error(ErrorKind::kDownload, text);
  }
}

// Cancels a call whose data arrives slower than `limit` bytes/s over a `window` (slow
// retrieval). Windows do not overlap, so a slow period is caught within two windows. The
// watcher thread only reads an atomic counter and calls the thread-safe TryCancel.
class SpeedWatchdog {
 public:
  SpeedWatchdog(grpc::ClientContext& context, uint64_t limit, std::chrono::seconds window)
      : context_(context), limit_(limit), window_(window) {
    if (limit_ > 0 && window_.count() > 0) thread_ = std::thread([this] { Watch(); });
  }
  ~SpeedWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  SpeedWatchdog(const SpeedWatchdog&) = delete;
  SpeedWatchdog& operator=(const SpeedWatchdog&) = delete;

  void Add(uint64_t bytes) { received_.fetch_add(bytes, std::memory_order_relaxed); }
  bool fired() const { return fired_.load(); }

 private:
  void Watch() {
    using Clock = std::chrono::steady_clock;
    const auto tick = std::clamp<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(window_) / 10,
        std::chrono::milliseconds(10), std::chrono::milliseconds(500));
    auto window_start = Clock::now();
    uint64_t start_bytes = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      wake_.wait_for(lock, tick);
      if (stop_) break;
      const auto now = Clock::now();
      const double elapsed = std::chrono::duration<double>(now - window_start).count();
      if (elapsed < static_cast<double>(window_.count())) continue;
      const uint64_t bytes = received_.load(std::memory_order_relaxed);
      if (static_cast<double>(bytes - start_bytes) < static_cast<double>(limit_) * elapsed) {
        fired_ = true;
        context_.TryCancel();
        return;
      }
      window_start = now;
      start_bytes = bytes;
    }
  }

  grpc::ClientContext& context_;
  const uint64_t limit_;
  const std::chrono::seconds window_;
  std::atomic<uint64_t> received_{0};
  std::atomic<bool> fired_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

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
  std::shared_ptr<grpc::ChannelCredentials> tls_credentials;  // null until a grpcs URL
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;  // wiped once the credentials hold it
  std::map<std::pair<bool, std::string>, std::unique_ptr<v1::DeviceService::Stub>> stubs;

  ~Impl() { Wipe(key_pem); }

  v1::DeviceService::Stub& StubFor(const GrpcRequest& request, const GrpcFetcherOptions& options) {
    auto& stub = stubs[{request.tls, request.authority}];
    if (stub) return *stub;
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxMessageBytes);
    args.SetMaxSendMessageSize(1 << 20);
    args.SetUserAgentPrefix("mdu-client-agent/0.1");
    // A fixed flow-control window instead of BDP probing: with a slow consumer (a disk at
    // 30 MB/s) BDP lets the window, and so the data buffered in this process, grow without a
    // useful bound (165 MiB measured for a 1 GiB target). 4 MiB keeps loopback and LAN
    // throughput and bounds memory.
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 4 << 20);
    // Lets the server send a 1 MiB chunk as one DATA frame instead of 64 of 16 KiB (fewer frame
    // headers and parse steps, measured with repo-server/bench/server_load).
    args.SetInt(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, 1 << 20);
    // The connection attempt's own deadline (gRPC uses max(backoff, this)).
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
                static_cast<int>(std::max<int64_t>(1, options.connect_timeout.count()) * 1000));
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    if (request.tls) {
      if (!tls_credentials) {
        grpc::SslCredentialsOptions ssl;
        ssl.pem_root_certs = ca_pem;
        ssl.pem_cert_chain = cert_pem;
        ssl.pem_private_key = key_pem;
        tls_credentials = grpc::SslCredentials(ssl);
        Wipe(ssl.pem_private_key);
        Wipe(key_pem);
      }
      credentials = tls_credentials;
      if (options.tls_server_name) args.SetSslTargetNameOverride(*options.tls_server_name);
    } else {
      credentials = grpc::InsecureChannelCredentials();
    }
    stub =
        v1::DeviceService::NewStub(grpc::CreateCustomChannel(request.authority, credentials, args));
    return *stub;
  }
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
  auto impl = std::make_unique<Impl>();
  if (options.ca_file) {
    MDU_ASSIGN_OR_RETURN(impl->ca_pem, ReadPem(*options.ca_file, "CA file"));
  }
  if (options.client_cert_file) {
    MDU_ASSIGN_OR_RETURN(impl->cert_pem, ReadPem(*options.client_cert_file, "client certificate"));
    MDU_ASSIGN_OR_RETURN(impl->key_pem, ReadPem(*options.client_key_file, "client key"));
  }
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
  v1::DeviceService::Stub& stub = impl_->StubFor(request, options_);
  const auto now = std::chrono::system_clock::now();
  grpc::ClientContext context;

  if (request.kind == GrpcRequest::Kind::kMetadata) {
    // One message: the deadline also stands in for the minimum speed.
    std::chrono::seconds limit = options_.total_timeout;
    if (options_.low_speed_limit > 0) {
      const auto slowest =
          options_.low_speed_time + std::chrono::seconds(max_length / options_.low_speed_limit + 1);
      if (limit.count() == 0 || slowest < limit) limit = slowest;
    }
    if (limit.count() > 0) context.set_deadline(now + limit);
    v1::GetMetadataRequest get;
    get.set_role(request.role);
    get.set_version(request.version);
    v1::GetMetadataResponse response;
    const grpc::Status status = stub.GetMetadata(&context, get, &response);
    if (!status.ok()) return MakeError(StatusError(status, shown));
    const std::string& content = response.content();
    if (content.size() > max_length) {
      return MakeError(ErrorKind::kLimitExceeded, shown + " is " + std::to_string(content.size()) +
                                                      " bytes, more than the limit of " +
                                                      std::to_string(max_length));
    }
    MDU_RETURN_IF_ERROR(on_start(0));  // metadata is never resumed
    if (content.empty()) return {};
    return sink(content);
  }

  if (options_.total_timeout.count() > 0) context.set_deadline(now + options_.total_timeout);
  v1::GetTargetRequest get;
  if (!request.sha256.empty()) {
    get.set_sha256(request.sha256);
  } else {
    get.set_path(request.path);
  }
  get.set_offset(offset);
  SpeedWatchdog watchdog(context, options_.low_speed_limit, options_.low_speed_time);
  std::unique_ptr<grpc::ClientReader<v1::TargetChunk>> reader = stub.GetTarget(&context, get);
  v1::TargetChunk chunk;
  uint64_t position = offset;
  bool started = false;
  std::optional<Error> failure;
  while (reader->Read(&chunk)) {
    if (chunk.offset() != position) {
      failure =
          Error(ErrorKind::kDownload, shown + ": chunk at byte " + std::to_string(chunk.offset()) +
                                          ", expected " + std::to_string(position));
      break;
    }
    if (!started) {
      if (chunk.total_length() > max_length) {
        failure = Error(ErrorKind::kLimitExceeded,
                        shown + " announces " + std::to_string(chunk.total_length()) +
                            " bytes, more than the limit of " + std::to_string(max_length));
        break;
      }
      started = true;
      if (Status ok = on_start(offset); !ok) {
        failure = ok.error();
        break;
      }
    }
    const std::string& data = chunk.data();
    if (data.size() > max_length - position) {
      failure = Error(ErrorKind::kLimitExceeded, shown + " sent more than the limit of " +
                                                     std::to_string(max_length) + " bytes");
      break;
    }
    position += data.size();
    watchdog.Add(data.size());
    if (data.empty()) continue;
    if (Status ok = sink(data); !ok) {
      failure = ok.error();
      break;
    }
  }
  if (failure) {
    context.TryCancel();
    (void)reader->Finish();
    return MakeError(std::move(*failure));
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) {
    if (watchdog.fired()) {
      return MakeError(ErrorKind::kSlowRetrieval,
                       shown + ": slower than " + std::to_string(options_.low_speed_limit) +
                           " bytes/s for " + std::to_string(options_.low_speed_time.count()) +
                           " s (" + std::to_string(position - offset) + " bytes received)");
    }
    Error error = StatusError(status, shown);
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      error =
          Error(ErrorKind::kSlowRetrieval,
                shown + ": not complete after " + std::to_string(options_.total_timeout.count()) +
                    " s (" + std::to_string(position - offset) + " bytes received)");
    }
    return MakeError(std::move(error));
  }
  if (!started) return on_start(offset);
  return {};
}

}  // namespace mdu::agent
