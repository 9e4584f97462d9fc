#include "tests/integration/signer_pkcs11/softhsm_fixture.h"

#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <random>

#include "signer/pkcs11/module.h"

// SoftHSM 2.6.1 leaks a few bytes per EdDSA signature inside the module (OpenSSL ASN.1 objects
// it never frees); not our code. The slow unwinder is needed to see the module's frames below
// libcrypto. The signer processes the CLI tests start get the same through LSAN_OPTIONS.
extern "C" const char* __lsan_default_suppressions() { return "leak:libsofthsm2.so\n"; }
extern "C" const char* __lsan_default_options() { return "fast_unwind_on_malloc=0"; }

namespace mdu::signer::pkcs11::testing {

namespace fs = std::filesystem;

std::string Quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int RunShell(const std::string& command, std::string* output) {
  std::string full = command + " 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t n = 0;
  std::string captured;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) captured.append(buffer, n);
  const int raw = ::pclose(pipe);
  if (output != nullptr) *output = captured;
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

void SoftHsmTest::SetUp() {
  ASSERT_TRUE(fs::exists(kDefaultModulePath))
      << kDefaultModulePath << " is missing: run scripts/install-deps.sh (softhsm2)";
  ASSERT_EQ(RunShell("command -v softhsm2-util"), 0)
      << "softhsm2-util is missing: run scripts/install-deps.sh (softhsm2)";
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = (fs::path(tmp != nullptr ? tmp : "/tmp") / "mdu-softhsm-XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  dir_ = pattern;
  fs::create_directories(dir_ / "tokens");
  {
    std::ofstream conf(dir_ / "softhsm2.conf");
    conf << "directories.tokendir = " << (dir_ / "tokens").string() << "\n"
         << "objectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n";
  }
  ::setenv("SOFTHSM2_CONF", (dir_ / "softhsm2.conf").c_str(), 1);
  {
    std::ofstream supp(dir_ / "lsan.supp");
    supp << "leak:libsofthsm2.so\n";
  }
  ::setenv("LSAN_OPTIONS", ("fast_unwind_on_malloc=0:suppressions=" + (dir_ / "lsan.supp").string()).c_str(), 1);
  ::setenv(kPinEnv, kUserPin, 1);
  ::setenv(kWrongPinEnv, kWrongPin, 1);
  ::unsetenv("MDU_PKCS11_MODULE");
  std::string output;
  ASSERT_EQ(RunShell(std::string("softhsm2-util --init-token --free --label ") + kTokenLabel +
                         " --so-pin " + kSoPin + " --pin " + kUserPin,
                     &output),
            0)
      << output;
}

void SoftHsmTest::TearDown() {
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string SoftHsmTest::Uri(const std::string& object) {
  return std::string("pkcs11:token=") + kTokenLabel + ";object=" + object;
}

PassphraseSource SoftHsmTest::Pin() {
  PassphraseSource source;
  source.env_var = kPinEnv;
  return source;
}

PassphraseSource SoftHsmTest::WrongPin() {
  PassphraseSource source;
  source.env_var = kWrongPinEnv;
  return source;
}

bool SoftHsmTest::Import(const fs::path& pkcs8_pem, const std::string& label,
                         const std::string& hex_id) {
  std::string output;
  const int status =
      RunShell("softhsm2-util --import " + Quote(pkcs8_pem.string()) + " --token " + kTokenLabel +
                   " --label " + Quote(label) + " --id " + hex_id + " --pin " + kUserPin,
               &output);
  if (status != 0) ADD_FAILURE() << output;
  return status == 0;
}

}  // namespace mdu::signer::pkcs11::testing
