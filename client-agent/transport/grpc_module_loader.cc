// Loads libmdu_agent_grpc.so on first use (see grpc_module.h) and forwards the gRPC fetcher and
// the report channel to it. Nothing here includes gRPC.
#include <dlfcn.h>

#include <cstring>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "client-agent/transport/grpc_module.h"
#include "mdu/v1/repository.pb.h"

namespace mdu::agent {
namespace {

namespace fs = std::filesystem;

fs::path& ModuleDirectory() {
  static fs::path directory;
  return directory;
}

Result<const GrpcModule*> Load() {
  // The module takes the API messages from this executable; using them here makes sure the
  // linker keeps them in every program that may load it.
  if (::mdu::v1::TargetChunk::descriptor() == nullptr) {
    return MakeError(ErrorKind::kInternal, "the API message descriptors are missing");
  }
  std::vector<fs::path> directories;
  if (!ModuleDirectory().empty()) directories.push_back(ModuleDirectory());
  std::error_code ec;
  const fs::path executable = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) directories.push_back(executable.parent_path());
#ifdef MDU_AGENT_GRPC_MODULE_DIR
  directories.emplace_back(MDU_AGENT_GRPC_MODULE_DIR);
#endif
  std::string looked;
  for (const fs::path& directory : directories) {
    if (!directory.is_absolute()) continue;  // dlopen would search LD_LIBRARY_PATH
    const fs::path file = directory / kGrpcModuleFileName;
    if (!fs::exists(file, ec)) {
      looked += (looked.empty() ? "" : ", ") + file.string();
      continue;
    }
    // Never closed: gRPC keeps threads and globals until the process exits.
    void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      return MakeError(ErrorKind::kInvalidArgument, "cannot load the gRPC module " +
                                                        file.string() + ": " +
                                                        (why != nullptr ? why : "unknown error"));
    }
    void* symbol = ::dlsym(handle, kGrpcModuleEntry);
    if (symbol == nullptr) {
      return MakeError(ErrorKind::kInvalidArgument,
                       file.string() + " is not a gRPC module (no " + kGrpcModuleEntry + ")");
    }
    const GrpcModule* (*entry)() = nullptr;
    static_assert(sizeof(entry) == sizeof(symbol));
    std::memcpy(&entry, &symbol, sizeof(entry));
    const GrpcModule* module = entry();
    const GrpcModule expected;
    if (module == nullptr || module->abi_version != expected.abi_version ||
        module->fetcher_options_size != expected.fetcher_options_size ||
        module->report_options_size != expected.report_options_size ||
        module->new_fetcher == nullptr || module->new_report_channel == nullptr) {
      return MakeError(ErrorKind::kInvalidArgument,
                       file.string() + " was built for another version of client-agent");
    }
    return module;
  }
  return MakeError(ErrorKind::kInvalidArgument,
                   std::string("grpc:// and grpcs:// URLs and the report server need the gRPC "
                               "module ") +
                       kGrpcModuleFileName + ", not found (looked for " +
                       (looked.empty() ? std::string("nothing: no absolute directory") : looked) +
                       ")");
}

class LazyGrpcFetcher final : public client::Fetcher {
 public:
  explicit LazyGrpcFetcher(GrpcFetcherOptions options) : options_(std::move(options)) {}

  Status Fetch(std::string_view url, uint64_t max_length, const client::ChunkSink& sink) override {
    MDU_ASSIGN_OR_RETURN(client::Fetcher * fetcher, Get());
    return fetcher->Fetch(url, max_length, sink);
  }
  Status FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                   const client::StartSink& on_start, const client::ChunkSink& sink) override {
    MDU_ASSIGN_OR_RETURN(client::Fetcher * fetcher, Get());
    return fetcher->FetchFrom(url, offset, max_length, on_start, sink);
  }

 private:
  Result<client::Fetcher*> Get() {
    if (!fetcher_) {
      MDU_ASSIGN_OR_RETURN(const GrpcModule* module, LoadGrpcModule());
      MDU_ASSIGN_OR_RETURN(fetcher_, module->new_fetcher(options_));
    }
    return fetcher_.get();
  }

  GrpcFetcherOptions options_;
  std::unique_ptr<client::Fetcher> fetcher_;
};

}  // namespace

void SetGrpcModuleDirectory(std::filesystem::path directory) {
  ModuleDirectory() = std::move(directory);
}

Result<const GrpcModule*> LoadGrpcModule() {
  static std::once_flag once;
  static Result<const GrpcModule*>* loaded = nullptr;
  std::call_once(once, [] { loaded = new Result<const GrpcModule*>(Load()); });
  return *loaded;
}

std::unique_ptr<client::Fetcher> NewLazyGrpcFetcher(GrpcFetcherOptions options) {
  return std::make_unique<LazyGrpcFetcher>(std::move(options));
}

namespace report {

Result<std::unique_ptr<ReportChannel>> NewGrpcReportChannel(const ReportServerOptions& options) {
  MDU_ASSIGN_OR_RETURN(const GrpcModule* module, LoadGrpcModule());
  return module->new_report_channel(options);
}

}  // namespace report
}  // namespace mdu::agent
