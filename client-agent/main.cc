#include "client-agent/cli.h"
#include "core/common/allocator_tuning.h"

int main(int argc, char** argv) {
  mdu::TuneAllocatorForStreaming();  // gRPC's 1 MiB receive buffers reused, not mapped per chunk
  return mdu::agent::RunCli(argc, argv);
}
