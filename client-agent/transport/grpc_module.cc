// The entry point of libmdu_agent_grpc.so (see grpc_module.h): hands the loader the factories of
// the gRPC fetcher and the gRPC report channel.
#include "client-agent/transport/grpc_module.h"

#include <utility>

namespace {

using mdu::Result;

Result<std::unique_ptr<mdu::client::Fetcher>> NewFetcher(mdu::agent::GrpcFetcherOptions options) {
  MDU_ASSIGN_OR_RETURN(std::unique_ptr<mdu::agent::GrpcFetcher> fetcher,
                       mdu::agent::GrpcFetcher::Create(std::move(options)));
  return std::unique_ptr<mdu::client::Fetcher>(std::move(fetcher));
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const mdu::agent::GrpcModule*
mdu_agent_grpc_module_v1() {
  static const mdu::agent::GrpcModule module{
      .new_fetcher = &NewFetcher,
      .new_report_channel = &mdu::agent::report::NewGrpcReportChannelInProcess,
  };
  return &module;
}
