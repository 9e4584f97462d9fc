#include "tests/unit/agent/h2_test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace mdu::agent::testing {
namespace {

constexpr uint8_t kData = 0;
constexpr uint8_t kHeaders = 1;
constexpr uint8_t kSettings = 4;
constexpr uint8_t kPing = 6;
constexpr uint8_t kGoAway = 7;
constexpr uint8_t kEndStream = 1;
constexpr uint8_t kEndHeaders = 4;
constexpr uint8_t kAck = 1;

bool WriteAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Reads exactly `n` bytes, waiting at most ~10 s for each piece; false on EOF, error or stop.
bool ReadAll(int fd, size_t n, std::string& out, const std::atomic<bool>& stop) {
  out.resize(n);
  size_t done = 0;
  while (done < n) {
    pollfd p{fd, POLLIN, 0};
    int waited = 0;
    while (::poll(&p, 1, 100) == 0) {
      if (stop.load() || ++waited > 100) return false;
    }
    const ssize_t got = ::recv(fd, out.data() + done, n - done, 0);
    if (got <= 0) return false;
    done += static_cast<size_t>(got);
  }
  return true;
}

std::string FrameHeader(size_t length, uint8_t type, uint8_t flags, uint32_t stream) {
  std::string h(9, '\0');
  h[0] = static_cast<char>(length >> 16);
  h[1] = static_cast<char>(length >> 8);
  h[2] = static_cast<char>(length);
  h[3] = static_cast<char>(type);
  h[4] = static_cast<char>(flags);
  h[5] = static_cast<char>((stream >> 24) & 0x7f);
  h[6] = static_cast<char>(stream >> 16);
  h[7] = static_cast<char>(stream >> 8);
  h[8] = static_cast<char>(stream);
  return h;
}

// HPACK integer with a 7-bit prefix (no Huffman flag).
void PutLength(std::string& out, size_t n) {
  if (n < 127) {
    out.push_back(static_cast<char>(n));
    return;
  }
  out.push_back(127);
  n -= 127;
  for (; n >= 128; n >>= 7) out.push_back(static_cast<char>((n & 0x7f) | 0x80));
  out.push_back(static_cast<char>(n));
}

std::string HeaderBlock(const H2Headers& headers) {
  std::string block;
  for (const auto& [name, value] : headers) {
    block.push_back(0);  // literal header field without indexing, new name
    PutLength(block, name.size());
    block += name;
    PutLength(block, value.size());
    block += value;
  }
  return block;
}

}  // namespace

std::string GrpcFrame(const std::string& message, char flag) {
  std::string out(5, '\0');
  out[0] = flag;
  const auto n = static_cast<uint32_t>(message.size());
  out[1] = static_cast<char>(n >> 24);
  out[2] = static_cast<char>(n >> 16);
  out[3] = static_cast<char>(n >> 8);
  out[4] = static_cast<char>(n);
  return out + message;
}

H2TestServer::H2TestServer(std::vector<H2Response> script) : script_(std::move(script)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t size = sizeof(address);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(listen_fd_, 8) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    return;
  }
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

H2TestServer::~H2TestServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

void H2TestServer::Serve() {
  while (!stop_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    ++connections_;
    ServeConnection(fd);
    ::close(fd);
  }
}

void H2TestServer::ServeConnection(int fd) {
  std::string bytes;
  if (!ReadAll(fd, 24, bytes, stop_)) return;  // the client preface
  if (!WriteAll(fd, FrameHeader(0, kSettings, 0, 0))) return;
  while (!stop_.load()) {
    std::string header;
    if (!ReadAll(fd, 9, header, stop_)) return;
    const auto u = [&](size_t i) { return static_cast<uint8_t>(header[i]); };
    const size_t length = (size_t{u(0)} << 16) | (size_t{u(1)} << 8) | u(2);
    const uint8_t type = u(3);
    const uint8_t flags = u(4);
    const uint32_t stream =
        ((uint32_t{u(5)} & 0x7f) << 24) | (uint32_t{u(6)} << 16) | (uint32_t{u(7)} << 8) | u(8);
    std::string payload;
    if (length > 0 && !ReadAll(fd, length, payload, stop_)) return;
    if (type == kSettings && (flags & kAck) == 0) {
      if (!WriteAll(fd, FrameHeader(0, kSettings, kAck, 0))) return;
    } else if (type == kPing && (flags & kAck) == 0) {
      if (!WriteAll(fd, FrameHeader(payload.size(), kPing, kAck, 0) + payload)) return;
    } else if (type == kGoAway) {
      return;
    } else if ((type == kHeaders || type == kData) && (flags & kEndStream) != 0) {
      const int index = requests_++;
      const H2Response& response =
          script_[std::min<size_t>(static_cast<size_t>(index), script_.size() - 1)];
      const std::string block = HeaderBlock(response.headers);
      const bool body_ends = !response.trailers_only && !response.trailers;
      std::string out =
          FrameHeader(block.size(), kHeaders,
                      kEndHeaders | (response.trailers_only ? kEndStream : 0), stream) +
          block;
      if (!response.trailers_only) {
        size_t at = 0;
        do {
          const size_t n = std::min<size_t>(16384, response.body.size() - at);
          const bool last = at + n == response.body.size();
          out += FrameHeader(n, kData, last && body_ends ? kEndStream : 0, stream) +
                 response.body.substr(at, n);
          at += n;
        } while (at < response.body.size());
        if (response.trailers) {
          const std::string trailers = HeaderBlock(*response.trailers);
          out +=
              FrameHeader(trailers.size(), kHeaders, kEndHeaders | kEndStream, stream) + trailers;
        }
      }
      if (!WriteAll(fd, out)) return;
    }
  }
}

}  // namespace mdu::agent::testing
