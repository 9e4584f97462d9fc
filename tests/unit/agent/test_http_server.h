// A minimal HTTP/1.1 server on 127.0.0.1 (ephemeral port) for transport tests, with POSIX
// sockets and one thread per connection. It understands just enough of HTTP for GET requests
// with keep-alive, and can misbehave on purpose: endless bodies, trickling one byte at a time,
// lying Content-Length, raw response bytes (malformed heads, chunked bodies, HTTP/1.0), requests
// left unanswered, connections dropped after a response. Test-only code.
//
// Thread-safety: the handler runs on connection threads; counters are atomic. The destructor
// stops every thread (misbehaving streams notice within ~50 ms).
#ifndef MDU_TESTS_UNIT_AGENT_TEST_HTTP_SERVER_H_
#define MDU_TESTS_UNIT_AGENT_TEST_HTTP_SERVER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/client/fetcher.h"
#include "core/common/error.h"

namespace mdu::agent::testing {

struct TestResponse {
  enum class Mode {
    kNormal,   // status, headers, body; keep-alive
    kEndless,  // 200, no Content-Length, body bytes forever, then close
    kTrickle,  // 200, Content-Length = body size, one byte every `trickle_interval`
    kRaw,      // `body` is the whole response (status line, headers, body) sent as is
    kNoAnswer,  // read the request, then close the connection without a byte
  };
  int status = 200;
  std::string body;
  // Overrides the Content-Length header (kNormal): a lie in either direction. The connection
  // is closed after such a response.
  std::optional<uint64_t> content_length;
  std::vector<std::pair<std::string, std::string>> headers;
  Mode mode = Mode::kNormal;
  std::chrono::milliseconds trickle_interval{1000};
  // kNormal: announce the whole body but send only this many bytes, then close (a connection
  // lost mid-transfer).
  std::optional<size_t> cut_after;
  // kNormal and kRaw: close the connection after the response without announcing it (as a
  // server dropping an idle keep-alive connection).
  bool close_after = false;
};

struct TestRequest {
  std::string path;
  std::string range;  // the Range header's value, empty when absent
  std::string head;   // the whole request head (request line and headers, CR LF separated)
};

class TestHttpServer {
 public:
  using Handler = std::function<TestResponse(const std::string& path)>;

  using RequestHandler = std::function<TestResponse(const TestRequest& request)>;

  explicit TestHttpServer(Handler handler);
  explicit TestHttpServer(RequestHandler handler);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  uint16_t port() const { return port_; }
  std::string Url(const std::string& path) const;  // "http://127.0.0.1:<port><path>"
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }
  // Body bytes written by misbehaving streams (to check that a client stopped reading).
  uint64_t streamed_bytes() const { return streamed_bytes_.load(); }
  std::vector<std::string> request_paths() const;

 private:
  void AcceptLoop();
  void Serve(int fd);
  bool SendAll(int fd, const std::string& data);

  RequestHandler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::atomic<uint64_t> streamed_bytes_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> paths_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

// The answer of a static file server holding `body`: 206 with a Content-Range for a
// "Range: bytes=N-" request when `honor_range`, else 200 with everything.
TestResponse ServeRange(const std::string& body, const TestRequest& request, bool honor_range);

// Fetches `url` through `fetcher` into a string: the status and what the sink received.
std::pair<Status, std::string> Get(client::Fetcher& fetcher, const std::string& url,
                                   uint64_t max_length);

}  // namespace mdu::agent::testing

#endif  // MDU_TESTS_UNIT_AGENT_TEST_HTTP_SERVER_H_
