#include "core/common/allocator_tuning.h"
#include "repo-server/server.h"

int main(int argc, char** argv) {
  mdu::TuneAllocatorForStreaming();  // 1 MiB target chunks reused, not mapped per chunk
  return mdu::server::RunRepoServer(argc, argv);
}
