#include <unistd.h>

#include <cstdio>

#include "client-agent/cli.h"
#include "core/common/allocator_tuning.h"
#include "core/common/sanitizers.h"

int main(int argc, char** argv) {
  // Buffers used once per download go back to the kernel when freed (allocator_tuning.h).
  mdu::TuneAllocatorForSmallFootprint();
  const int status = mdu::agent::RunCli(argc, argv);
#if defined(MDU_SANITIZER_ALLOCATOR)
  return status;  // the sanitizers' leak and race reports run at exit
#else
  // Ends without the libraries' exit-time cleanup (OpenSSL, GnuTLS, p11-kit, static
  // destructors): it only frees memory the kernel takes back anyway, and the code it ran made
  // exit the agent's peak RSS (+0.5 MiB after a download, scripts/bench_agent_rss.sh).
  // RunCli has closed and synced everything the agent wrote; stdout and stderr are flushed here
  // as exit would.
  std::fflush(nullptr);
  ::_exit(status);
#endif
}
