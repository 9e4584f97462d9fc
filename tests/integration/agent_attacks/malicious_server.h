// A malicious (or merely broken) repository server for the client-agent attack suite: it
// implements mdu.v1.DeviceService on a loopback port and serves the files of a directory laid out
// as a consistent-snapshot TUF tree (metadata/N.ROLE.json, metadata/timestamp.json,
// targets/DIR/<sha256>.NAME), exactly as the test prepared them (tampered bytes included), and
// misbehaves on the target stream as the Misbehaviour switches say.
//
// Metadata attacks (tampered, unsigned, rolled back, expired, mixed, oversized, ...) need no
// switch: the test writes those bytes into the directory. The switches cover what a directory
// cannot express: the stream itself.
//
// Ownership and threads: the server runs gRPC's own threads; set_misbehaviour may be called
// from the test thread at any time (guarded by a mutex) but is meant to be called between agent
// runs.
#ifndef MDU_TESTS_INTEGRATION_AGENT_ATTACKS_MALICIOUS_SERVER_H_
#define MDU_TESTS_INTEGRATION_AGENT_ATTACKS_MALICIOUS_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>

#include "mdu/v1/repository.grpc.pb.h"

namespace mdu::agent_attacks {

struct Misbehaviour {
  // After the real bytes, keep sending chunks of junk (bounded at 64 MiB) with consecutive
  // offsets: the endless-data attack on a target.
  bool endless_target = false;
  // total_length on the first chunk: 0 = the real file's length.
  uint64_t announced_length = 0;
  // Send the target one byte per `drip_interval` and nothing at all to a resumed request (slow
  // retrieval: a trickle, then a stall); zero = full speed.
  std::chrono::milliseconds drip_interval{0};
  // Stop the stream with UNAVAILABLE once this many bytes (from offset 0) have been sent, to
  // leave a partial download behind; 0 = never.
  uint64_t cut_at = 0;
  // On a resumed request (offset > 0) answer with a first chunk that claims offset 0 (the
  // attacker wants its bytes placed elsewhere than asked).
  bool wrong_offset_on_resume = false;
};

class MaliciousServer {
 public:
  // Serves `root` on 127.0.0.1, on an ephemeral port (port() says which).
  explicit MaliciousServer(std::filesystem::path root);
  ~MaliciousServer();
  MaliciousServer(const MaliciousServer&) = delete;
  MaliciousServer& operator=(const MaliciousServer&) = delete;

  int port() const { return port_; }
  void set_misbehaviour(const Misbehaviour& misbehaviour);
  // How many GetTarget calls asked for a non-zero offset (resume) so far.
  int resumed_requests() const;

 private:
  class Service;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace mdu::agent_attacks

#endif  // MDU_TESTS_INTEGRATION_AGENT_ATTACKS_MALICIOUS_SERVER_H_
