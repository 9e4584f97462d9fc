// A private SoftHSM2 token store for one test: a temporary directory holding softhsm2.conf and
// the token directory, SOFTHSM2_CONF pointing at it (inherited by the `signer` processes the
// test starts), and a token initialized at run time with softhsm2-util. softhsm2 is installed
// by scripts/install-deps.sh, so a missing softhsm2-util or module fails the test (no skip).
#ifndef MDU_TESTS_INTEGRATION_SIGNER_PKCS11_SOFTHSM_FIXTURE_H_
#define MDU_TESTS_INTEGRATION_SIGNER_PKCS11_SOFTHSM_FIXTURE_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "signer/keystore/passphrase.h"

namespace mdu::signer::pkcs11::testing {

inline constexpr char kTokenLabel[] = "mdu-test-hsm";
inline constexpr char kUserPin[] = "user-pin-4711";
inline constexpr char kSoPin[] = "so-pin-0815";
inline constexpr char kPinEnv[] = "MDU_PKCS11_TEST_PIN";
inline constexpr char kWrongPinEnv[] = "MDU_PKCS11_TEST_WRONG_PIN";
inline constexpr char kWrongPin[] = "not-the-pin-1234";

// Runs a shell command; returns its exit status (-1 if it did not exit normally), with stdout
// and stderr captured in `output` when given.
int RunShell(const std::string& command, std::string* output = nullptr);
std::string Quote(const std::string& arg);

class SoftHsmTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // "pkcs11:token=mdu-test-hsm;object=<object>".
  static std::string Uri(const std::string& object);
  // The PIN from kPinEnv.
  static PassphraseSource Pin();
  static PassphraseSource WrongPin();
  // Imports a PKCS#8 PEM file as a key pair with `label` and `hex_id`; false on failure.
  bool Import(const std::filesystem::path& pkcs8_pem, const std::string& label,
              const std::string& hex_id);

  std::filesystem::path dir_;
};

}  // namespace mdu::signer::pkcs11::testing

#endif  // MDU_TESTS_INTEGRATION_SIGNER_PKCS11_SOFTHSM_FIXTURE_H_
