// Device keys and certificates made at test run time with the openssl CLI, for the tests of
// device evidence (report signatures): self-signed leaves, or leaves issued by a test CA.
#ifndef MDU_TESTS_EVIDENCE_DEVICE_CERTS_H_
#define MDU_TESTS_EVIDENCE_DEVICE_CERTS_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/io/file.h"
#include "proto/report_signing.h"

namespace mdu::testing {

enum class KeyType { kEcdsaP256, kEd25519, kRsa2048 };

inline std::string NewKeyArgs(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP256:
      return "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1";
    case KeyType::kEd25519:
      return "-newkey ed25519";
    case KeyType::kRsa2048:
      return "-newkey rsa:2048";
  }
  return {};
}

class DeviceCerts {
 public:
  explicit DeviceCerts(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // Runs the openssl CLI in the directory; true on success.
  bool Openssl(const std::string& args) const {
    std::string command = "cd '" + dir_.string() + "' && openssl " + args + " >/dev/null 2>&1";
    return std::system(command.c_str()) == 0;
  }
  // A self-signed P-256 CA: <name>.key, <name>.pem.
  bool MakeCa(const std::string& name) const {
    return Openssl("req -x509 " + NewKeyArgs(KeyType::kEcdsaP256) + " -nodes -keyout " + name +
                   ".key -out " + name + ".pem -days 2 -subj /CN=" + name +
                   " -addext basicConstraints=critical,CA:TRUE -addext "
                   "keyUsage=critical,keyCertSign,cRLSign");
  }
  // <name>.key/<name>.pem issued by `ca` with the given extension lines; subject CN `cn`
  // (default: the name).
  bool MakeLeaf(const std::string& name, const std::string& ca, KeyType type,
                const std::string& extensions, const std::string& cn = "") const {
    if (!io::WriteFileAtomically(dir_ / (name + ".ext"), extensions)) return false;
    return Openssl("req " + NewKeyArgs(type) + " -nodes -keyout " + name + ".key -out " + name +
                   ".csr -subj /CN=" + (cn.empty() ? name : cn)) &&
           Openssl("x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca +
                   ".key -CAcreateserial -out " + name + ".pem -days 2 -extfile " + name + ".ext");
  }
  // A device leaf for `device_id` (CN and URI SAN urn:mdu:device:<id>, clientAuth).
  bool MakeDevice(const std::string& name, const std::string& ca, KeyType type,
                  const std::string& device_id) const {
    return MakeLeaf(
        name, ca, type,
        "subjectAltName=URI:urn:mdu:device:" + device_id + "\nextendedKeyUsage=clientAuth\n",
        device_id);
  }
  // A self-signed device certificate (unit tests: no chain needed).
  bool MakeSelfSigned(const std::string& name, KeyType type, const std::string& device_id) const {
    return Openssl("req -x509 " + NewKeyArgs(type) + " -nodes -keyout " + name + ".key -out " +
                   name + ".pem -days 2 -subj /CN=" + name +
                   " -addext subjectAltName=URI:urn:mdu:device:" + device_id);
  }

  std::string Read(const std::string& file) const {
    auto bytes = io::ReadFileBounded(dir_ / file, 1 << 20);
    return bytes ? *bytes : std::string();
  }
  std::string Path(const std::string& file) const { return (dir_ / file).string(); }

 private:
  std::filesystem::path dir_;
};

// Device evidence: sets `message`'s nonce and signs the message with the PEM private key
// `key_pem`, as a device does before it sends a report.
template <class Message>
::testing::AssertionResult SignReport(Message& message, const std::string& nonce,
                                      const std::string& key_pem) {
  message.set_nonce(nonce);
  auto key = evidence::DeviceKey::FromPem(key_pem);
  if (!key) return ::testing::AssertionFailure() << key.error().ToString();
  auto signature = key->Sign(evidence::SigningPayload(message));
  if (!signature) return ::testing::AssertionFailure() << signature.error().ToString();
  message.set_signature(*signature);
  return ::testing::AssertionSuccess();
}

}  // namespace mdu::testing

#endif  // MDU_TESTS_EVIDENCE_DEVICE_CERTS_H_
