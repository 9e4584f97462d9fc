#include "tests/unit/agent/test_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace mdu::agent::testing {
namespace {

constexpr int kPollMs = 50;

std::string Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 301:
      return "Moved Permanently";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 410:
      return "Gone";
    case 500:
      return "Internal Server Error";
    default:
      return "Status";
  }
}

}  // namespace

TestHttpServer::TestHttpServer(Handler handler)
    : TestHttpServer(RequestHandler([handler = std::move(handler)](const TestRequest& request) {
        return handler(request.path);
      })) {}

TestHttpServer::TestHttpServer(RequestHandler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(listen_fd_, 16) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("bind/listen failed");
  }
  socklen_t length = sizeof(address);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TestHttpServer::~TestHttpServer() {
  stop_ = true;
  acceptor_.join();
  for (std::thread& worker : workers_) worker.join();
  ::close(listen_fd_);
}

std::string TestHttpServer::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<std::string> TestHttpServer::request_paths() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return paths_;
}

void TestHttpServer::AcceptLoop() {
  while (!stop_) {
    pollfd fds{listen_fd_, POLLIN, 0};
    if (::poll(&fds, 1, kPollMs) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    workers_.emplace_back([this, fd] {
      Serve(fd);
      ::close(fd);
    });
  }
}

bool TestHttpServer::SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    if (stop_) return false;
    pollfd fds{fd, POLLOUT, 0};
    if (::poll(&fds, 1, kPollMs) <= 0) continue;
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

void TestHttpServer::Serve(int fd) {
  std::string buffer;
  while (!stop_) {
    // Read one request head (GET has no body).
    size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (stop_) return;
      pollfd fds{fd, POLLIN, 0};
      if (::poll(&fds, 1, kPollMs) <= 0) continue;
      char chunk[4096];
      const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) return;  // client closed
      buffer.append(chunk, static_cast<size_t>(n));
    }
    const std::string head = buffer.substr(0, head_end);
    buffer.erase(0, head_end + 4);
    const size_t first_space = head.find(' ');
    const size_t second_space = head.find(' ', first_space + 1);
    const std::string path = head.substr(first_space + 1, second_space - first_space - 1);
    ++requests_;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      paths_.push_back(path);
    }
    TestRequest request{path, "", head};
    for (size_t at = head.find("\r\n"); at != std::string::npos; at = head.find("\r\n", at + 2)) {
      const size_t end = head.find("\r\n", at + 2);
      const std::string line = head.substr(at + 2, end == std::string::npos ? end : end - at - 2);
      if (line.size() > 7 &&
          (line.compare(0, 7, "Range: ") == 0 || line.compare(0, 7, "range: ") == 0)) {
        request.range = line.substr(7);
      }
    }
    const TestResponse response = handler_(request);

    std::string out =
        "HTTP/1.1 " + std::to_string(response.status) + " " + Reason(response.status) + "\r\n";
    for (const auto& [name, value] : response.headers) out += name + ": " + value + "\r\n";
    switch (response.mode) {
      case TestResponse::Mode::kNormal: {
        const uint64_t length = response.content_length.value_or(response.body.size());
        out += "Content-Length: " + std::to_string(length) + "\r\n";
        if (response.content_length || response.cut_after) out += "Connection: close\r\n";
        out += "\r\n" + response.body.substr(0, response.cut_after.value_or(std::string::npos));
        if (!SendAll(fd, out) || response.content_length || response.cut_after ||
            response.close_after) {
          return;
        }
        break;
      }
      case TestResponse::Mode::kRaw:
        if (!SendAll(fd, response.body) || response.close_after) return;
        break;
      case TestResponse::Mode::kNoAnswer:
        return;
      case TestResponse::Mode::kEndless: {
        out += "Connection: close\r\n\r\n";
        if (!SendAll(fd, out)) return;
        const std::string block(16 * 1024, 'x');
        while (SendAll(fd, block)) streamed_bytes_ += block.size();
        return;
      }
      case TestResponse::Mode::kTrickle: {
        out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
        out += "Connection: close\r\n\r\n";
        if (!SendAll(fd, out)) return;
        for (char byte : response.body) {
          if (!SendAll(fd, std::string(1, byte))) return;
          ++streamed_bytes_;
          // Sleep in small steps so the destructor never waits long.
          for (auto waited = std::chrono::milliseconds(0); waited < response.trickle_interval;
               waited += std::chrono::milliseconds(kPollMs)) {
            if (stop_) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
          }
        }
        return;
      }
    }
  }
}

TestResponse ServeRange(const std::string& body, const TestRequest& request, bool honor_range) {
  TestResponse response;
  response.body = body;
  if (honor_range && request.range.rfind("bytes=", 0) == 0) {
    const uint64_t start = std::stoull(request.range.substr(6));
    response.status = 206;
    response.body = body.substr(start);
    response.headers.push_back({"Content-Range", "bytes " + std::to_string(start) + "-" +
                                                     std::to_string(body.size() - 1) + "/" +
                                                     std::to_string(body.size())});
  }
  return response;
}

std::pair<Status, std::string> Get(client::Fetcher& fetcher, const std::string& url,
                                   uint64_t max_length) {
  std::string body;
  Status status = fetcher.Fetch(url, max_length, [&body](std::string_view chunk) -> Status {
    body.append(chunk);
    return {};
  });
  return {std::move(status), std::move(body)};
}

}  // namespace mdu::agent::testing
