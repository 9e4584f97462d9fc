// A scripted HTTP/2 server for the gRPC transport's tests (client-agent/transport/grpc_call.h):
// plaintext with prior knowledge on 127.0.0.1, an ephemeral port, one thread. Every request
// stream (whatever its path) is answered with the next response of the script: headers, raw
// DATA bytes and optional trailers, exactly as given, so the tests can send what a real gRPC
// server never does (no grpc-status, compressed flag, malformed chunks, ...).
//
// HTTP/2 subset: SETTINGS (acknowledged), PING (answered), request HEADERS/DATA read until
// END_STREAM (contents ignored), answers with HPACK literals (no Huffman, no indexing), DATA in
// frames of at most 16 KiB. Bodies must stay below the client's initial window (64 KiB).
#ifndef MDU_TESTS_UNIT_AGENT_H2_TEST_SERVER_H_
#define MDU_TESTS_UNIT_AGENT_H2_TEST_SERVER_H_

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace mdu::agent::testing {

using H2Headers = std::vector<std::pair<std::string, std::string>>;

struct H2Response {
  H2Headers headers = {{":status", "200"}, {"content-type", "application/grpc"}};
  std::string body;  // DATA bytes
  // Sent as a last HEADERS frame with END_STREAM; without them the last DATA frame ends the
  // stream. With trailers_only, `headers` end the stream and nothing else is sent.
  std::optional<H2Headers> trailers = H2Headers{{"grpc-status", "0"}};
  bool trailers_only = false;
};

class H2TestServer {
 public:
  // Serves `script` in order; the last response repeats once the script is used up.
  explicit H2TestServer(std::vector<H2Response> script);
  ~H2TestServer();
  H2TestServer(const H2TestServer&) = delete;
  H2TestServer& operator=(const H2TestServer&) = delete;

  int port() const { return port_; }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }

 private:
  void Serve();
  void ServeConnection(int fd);

  std::vector<H2Response> script_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// A gRPC message prefix + message.
std::string GrpcFrame(const std::string& message, char flag = 0);

}  // namespace mdu::agent::testing

#endif  // MDU_TESTS_UNIT_AGENT_H2_TEST_SERVER_H_
