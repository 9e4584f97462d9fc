// The gRPC module: the agent's gRPC code (GrpcFetcher, the report channel) built as a shared
// object, libmdu_agent_grpc.so, that client-agent loads with dlopen only when a grpc:// or
// grpcs:// URL or a report server is used. gRPC, abseil and their ~80 shared libraries then
// stay out of every process that only speaks HTTP(S) or file:// (they cost several MiB of RSS
// at start-up whether used or not).
//
// Where the module is looked for, in order (absolute paths only; never from the environment or
// LD_LIBRARY_PATH: the environment of a device agent must not be able to inject code):
//   1. the directory set with SetGrpcModuleDirectory (programs and tests that live elsewhere),
//   2. the directory of the running executable (/proc/self/exe, like $ORIGIN),
//   3. MDU_AGENT_GRPC_MODULE_DIR, fixed at build time (CMake cache variable of that name).
// A missing or incompatible module fails the first gRPC use with kInvalidArgument naming every
// place looked at and dlopen's message.
//
// The module resolves core's and the API messages' symbols from the executable that loads it
// (linked with ENABLE_EXPORTS): one copy of each, so the protobuf descriptors are registered
// once. The executable links mdu_agent_transport, which makes sure the messages are present.
//
// Thread-safety: LoadGrpcModule loads once (std::call_once) and may be called from any thread.
#ifndef MDU_CLIENT_AGENT_TRANSPORT_GRPC_MODULE_H_
#define MDU_CLIENT_AGENT_TRANSPORT_GRPC_MODULE_H_

#include <cstddef>
#include <filesystem>
#include <memory>

#include "client-agent/report/sender.h"
#include "client-agent/transport/grpc_fetcher.h"
#include "core/client/fetcher.h"
#include "core/common/error.h"

namespace mdu::agent {

inline constexpr char kGrpcModuleFileName[] = "libmdu_agent_grpc.so";
inline constexpr char kGrpcModuleEntry[] = "mdu_agent_grpc_module_v1";

// What the module exports (one instance, returned by the entry point). The sizes guard against
// a module built from another version of these headers.
struct GrpcModule {
  int abi_version = 1;
  size_t fetcher_options_size = sizeof(GrpcFetcherOptions);
  size_t report_options_size = sizeof(report::ReportServerOptions);
  Result<std::unique_ptr<client::Fetcher>> (*new_fetcher)(GrpcFetcherOptions options) = nullptr;
  Result<std::unique_ptr<report::ReportChannel>> (*new_report_channel)(
      const report::ReportServerOptions& options) = nullptr;
};

// Must be called before the first LoadGrpcModule to have an effect.
void SetGrpcModuleDirectory(std::filesystem::path directory);

// The loaded module (loaded on the first call; a failure is remembered).
Result<const GrpcModule*> LoadGrpcModule();

// A Fetcher for grpc/grpcs URLs that loads the module and creates its GrpcFetcher on first use.
std::unique_ptr<client::Fetcher> NewLazyGrpcFetcher(GrpcFetcherOptions options);

}  // namespace mdu::agent

// Defined in the module (grpc_fetcher.cc, report/grpc_report_channel.cc); also linked directly
// into tests through the static library mdu_agent_grpc.
namespace mdu::agent::report {
Result<std::unique_ptr<ReportChannel>> NewGrpcReportChannelInProcess(
    const ReportServerOptions& options);
}  // namespace mdu::agent::report

#endif  // MDU_CLIENT_AGENT_TRANSPORT_GRPC_MODULE_H_
