#include "client-agent/report/sender.h"

#include <utility>

namespace mdu::agent::report {

Status SignReport(ReportMessage& message, const std::string& nonce,
                  const evidence::DeviceKey& key) {
  return std::visit(
      [&](auto& m) -> Status {
        m.set_nonce(nonce);
        m.clear_signature();
        MDU_ASSIGN_OR_RETURN(std::string signature, key.Sign(evidence::SigningPayload(m)));
        m.set_signature(std::move(signature));
        return {};
      },
      message);
}

Result<FlushResult> FlushOutbox(Outbox& outbox, ReportChannel& channel,
                                const evidence::DeviceKey* key) {
  FlushResult result;
  MDU_ASSIGN_OR_RETURN(std::vector<OutboxEntry> pending, outbox.Pending());
  for (size_t i = 0; i < pending.size(); ++i) {
    OutboxEntry& entry = pending[i];
    Result<bool> sent = [&]() -> Result<bool> {
      if (key != nullptr) {
        MDU_ASSIGN_OR_RETURN(std::string nonce, channel.GetNonce(DeviceIdOf(entry.message)));
        MDU_RETURN_IF_ERROR(SignReport(entry.message, nonce, *key));
      }
      return channel.Send(entry.message);
    }();
    if (!sent) {
      if (sent.error().kind() == ErrorKind::kDownload) {
        result.remaining = static_cast<int>(pending.size() - i);
        result.outage = sent.error();
        return result;
      }
      if (sent.error().kind() == ErrorKind::kCrypto) return MakeError(sent.error());
      MDU_RETURN_IF_ERROR(outbox.Reject(entry, sent.error().ToString()));
      ++result.rejected;
      continue;
    }
    // Acknowledged: from here a crash before the removal only causes a resend, which the
    // server recognises by the report id.
    MDU_RETURN_IF_ERROR(outbox.Remove(entry));
    ++(*sent ? result.sent : result.duplicates);
  }
  return result;
}

}  // namespace mdu::agent::report
