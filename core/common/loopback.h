// Whether a host names the loopback interface, for the "plaintext only on loopback" rules of
// the server, the operator client and the agent's gRPC transport.
#ifndef MDU_CORE_COMMON_LOOPBACK_H_
#define MDU_CORE_COMMON_LOOPBACK_H_

#include <string_view>

namespace mdu {

// True for "localhost", an IPv4 literal in 127.0.0.0/8 and the IPv6 literal ::1 (bracketed or
// not). Only literals count: a DNS name such as "127.evil.example" resolves wherever its owner
// wants, so it is not loopback.
bool IsLoopbackHost(std::string_view host);

}  // namespace mdu

#endif  // MDU_CORE_COMMON_LOOPBACK_H_
