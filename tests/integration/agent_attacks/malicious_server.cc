#include "tests/integration/agent_attacks/malicious_server.h"

#include <algorithm>
#include <string>
#include <thread>
#include <utility>

#include "core/client/metadata_store.h"
#include "core/io/file.h"

namespace mdu::agent_attacks {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::mdu::v1;

constexpr uint64_t kMaxServedFile = 64ull << 20;
constexpr size_t kChunk = 64 * 1024;
constexpr uint64_t kEndlessCap = 64ull << 20;  // so a broken client cannot hang the test

bool SafeName(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name != "." && name != "..";
}

// The target file whose name starts with "<sha256>." anywhere below targets/.
std::optional<fs::path> FindTarget(const fs::path& targets, const std::string& sha256) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(targets, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->is_regular_file() && name.size() > sha256.size() &&
        name.compare(0, sha256.size(), sha256) == 0 && name[sha256.size()] == '.') {
      return it->path();
    }
  }
  return std::nullopt;
}

}  // namespace

class MaliciousServer::Service final : public v1::DeviceService::Service {
 public:
  explicit Service(fs::path root) : root_(std::move(root)) {}

  void Set(const Misbehaviour& misbehaviour) {
    std::lock_guard lock(mutex_);
    misbehaviour_ = misbehaviour;
  }
  Misbehaviour Get() const {
    std::lock_guard lock(mutex_);
    return misbehaviour_;
  }
  int resumed() const {
    std::lock_guard lock(mutex_);
    return resumed_;
  }

  grpc::Status GetMetadata(grpc::ServerContext*, const v1::GetMetadataRequest* request,
                           v1::GetMetadataResponse* response) override {
    const std::string role = client::PercentEncode(request->role());
    const std::string name = request->version() == 0
                                 ? role + ".json"
                                 : std::to_string(request->version()) + "." + role + ".json";
    if (!SafeName(name)) return {grpc::StatusCode::INVALID_ARGUMENT, "bad role"};
    Result<std::string> bytes = io::ReadFileBounded(root_ / "metadata" / name, kMaxServedFile);
    if (!bytes) return {grpc::StatusCode::NOT_FOUND, "no " + name};
    response->set_content(std::move(*bytes));
    return grpc::Status::OK;
  }

  grpc::Status GetTarget(grpc::ServerContext* context, const v1::GetTargetRequest* request,
                         grpc::ServerWriter<v1::TargetChunk>* writer) override {
    if (request->target_case() != v1::GetTargetRequest::kSha256 ||
        request->sha256().size() < 64) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "this server serves targets by sha256 only"};
    }
    std::optional<fs::path> file = FindTarget(root_ / "targets", request->sha256().substr(0, 64));
    if (!file) return {grpc::StatusCode::NOT_FOUND, "no such target"};
    Result<std::string> bytes = io::ReadFileBounded(*file, kMaxServedFile);
    if (!bytes) return {grpc::StatusCode::INTERNAL, bytes.error().ToString()};
    const std::string& data = *bytes;
    const Misbehaviour how = Get();
    uint64_t offset = request->offset();
    if (offset > data.size()) return {grpc::StatusCode::OUT_OF_RANGE, "offset past the end"};
    if (offset > 0) {
      std::lock_guard lock(mutex_);
      ++resumed_;
    }
    const uint64_t announced = how.announced_length != 0 ? how.announced_length : data.size();
    bool first = true;
    auto send = [&](uint64_t at, std::string_view chunk) {
      v1::TargetChunk message;
      message.set_offset(at);
      message.set_data(std::string(chunk));
      if (first) message.set_total_length(announced);
      first = false;
      return !context->IsCancelled() && writer->Write(message);
    };

    if (how.wrong_offset_on_resume && offset > 0) {
      // The bytes from 0, labelled as starting at 0 although the client asked for `offset`.
      send(0, std::string_view(data).substr(0, std::min<uint64_t>(kChunk, data.size())));
      return grpc::Status::OK;
    }
    if (how.drip_interval.count() > 0 && offset > 0) {
      // The resumed request gets nothing at all: a stalled stream, held open until the client
      // gives up (bounded, so a broken client cannot hang the test).
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (!context->IsCancelled() && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      return grpc::Status::OK;
    }
    const size_t step = how.drip_interval.count() > 0 ? 1 : kChunk;
    while (offset < data.size()) {
      if (how.cut_at != 0 && offset >= how.cut_at) {
        return {grpc::StatusCode::UNAVAILABLE, "connection dropped (simulated)"};
      }
      uint64_t n = std::min<uint64_t>(step, data.size() - offset);
      if (how.cut_at != 0) n = std::min<uint64_t>(n, how.cut_at - offset);
      if (!send(offset, std::string_view(data).substr(offset, n))) return grpc::Status::OK;
      offset += n;
      if (how.drip_interval.count() > 0) std::this_thread::sleep_for(how.drip_interval);
    }
    if (how.endless_target) {
      const std::string junk(kChunk, 'X');
      while (offset < data.size() + kEndlessCap) {
        if (!send(offset, junk)) return grpc::Status::OK;
        offset += junk.size();
      }
    }
    return grpc::Status::OK;
  }

 private:
  const fs::path root_;
  mutable std::mutex mutex_;
  Misbehaviour misbehaviour_;
  int resumed_ = 0;
};

MaliciousServer::MaliciousServer(fs::path root)
    : service_(std::make_unique<Service>(std::move(root))) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
  builder.SetMaxReceiveMessageSize(4 << 20);
  builder.SetMaxSendMessageSize(static_cast<int>(kMaxServedFile) + (1 << 20));
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
}

MaliciousServer::~MaliciousServer() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

void MaliciousServer::set_misbehaviour(const Misbehaviour& misbehaviour) {
  service_->Set(misbehaviour);
}

int MaliciousServer::resumed_requests() const { return service_->resumed(); }

}  // namespace mdu::agent_attacks
