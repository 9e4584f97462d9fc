#include "signer/pkcs11/key_encoding.h"

#include "core/common/hex.h"
#include "core/json/value.h"

namespace mdu::signer::pkcs11 {
namespace {

using Bytes = std::vector<uint8_t>;

void AppendLength(Bytes& out, size_t length) {
  if (length < 0x80) {
    out.push_back(static_cast<uint8_t>(length));
    return;
  }
  Bytes digits;
  for (size_t n = length; n != 0; n >>= 8) digits.insert(digits.begin(), n & 0xff);
  out.push_back(static_cast<uint8_t>(0x80 | digits.size()));
  out.insert(out.end(), digits.begin(), digits.end());
}

Bytes Tlv(uint8_t tag, std::span<const uint8_t> body) {
  Bytes out{tag};
  AppendLength(out, body.size());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes Concat(std::initializer_list<std::span<const uint8_t>> parts) {
  Bytes out;
  for (auto part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

// AlgorithmIdentifier OIDs and parameters, DER.
constexpr uint8_t kEcPublicKeyOid[] = {0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
constexpr uint8_t kP256Oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr uint8_t kEd25519Oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
constexpr uint8_t kRsaEncryptionOid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                         0xf7, 0x0d, 0x01, 0x01, 0x01};
constexpr uint8_t kDerNull[] = {0x05, 0x00};

// SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
Bytes Spki(std::span<const uint8_t> algorithm_body, std::span<const uint8_t> key) {
  const Bytes algorithm = Tlv(0x30, algorithm_body);
  const uint8_t no_unused_bits[] = {0x00};
  const Bytes bit_string = Tlv(0x03, Concat({no_unused_bits, key}));
  return Tlv(0x30, Concat({algorithm, bit_string}));
}

std::string Base64(std::span<const uint8_t> data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (const size_t left = data.size() - i; left != 0) {
    const uint32_t v = (uint32_t{data[i]} << 16) | (left == 2 ? uint32_t{data[i + 1]} << 8 : 0);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += left == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<crypto::PublicKey> TufKey(crypto::KeyScheme scheme, std::string_view keytype,
                                 std::string public_text) {
  json::Value object = json::Value::MakeObject({
      {"keytype", json::Value(std::string(keytype))},
      {"keyval", json::Value::MakeObject({{"public", json::Value(std::move(public_text))}})},
      {"scheme", json::Value(std::string(crypto::SchemeName(scheme)))},
  });
  return crypto::PublicKey::FromTuf(object);
}

}  // namespace

std::vector<uint8_t> Ed25519EcParams() {
  return Bytes(std::begin(kEd25519Oid), std::end(kEd25519Oid));
}
std::vector<uint8_t> P256EcParams() { return Bytes(std::begin(kP256Oid), std::end(kP256Oid)); }

Result<std::vector<uint8_t>> EcPointBytes(std::span<const uint8_t> attribute,
                                          size_t expected_size) {
  if (attribute.size() == expected_size) return Bytes(attribute.begin(), attribute.end());
  // OCTET STRING, short or long length form.
  if (attribute.size() >= 2 && attribute[0] == 0x04) {
    size_t header = 2;
    size_t length = attribute[1];
    if (length == 0x81 && attribute.size() >= 3) {
      length = attribute[2];
      header = 3;
    }
    if (length == expected_size && attribute.size() == header + length) {
      return Bytes(attribute.begin() + static_cast<std::ptrdiff_t>(header), attribute.end());
    }
  }
  return MakeError(ErrorKind::kCrypto,
                   "the token's CKA_EC_POINT (" + std::to_string(attribute.size()) +
                       " bytes) is not a point of " + std::to_string(expected_size) + " bytes");
}

Result<crypto::PublicKey> Ed25519TufKey(std::span<const uint8_t> ec_point) {
  if (ec_point.size() != 32) {
    return MakeError(ErrorKind::kCrypto, "an ed25519 public key has 32 bytes");
  }
  return TufKey(crypto::KeyScheme::kEd25519, "ed25519", HexEncode(ec_point));
}

Result<crypto::PublicKey> P256TufKey(std::span<const uint8_t> ec_point) {
  if (ec_point.size() != 65 || ec_point[0] != 0x04) {
    return MakeError(ErrorKind::kCrypto, "a P-256 public key is a 65-byte uncompressed point");
  }
  const Bytes algorithm = Concat({kEcPublicKeyOid, kP256Oid});
  return TufKey(crypto::KeyScheme::kEcdsaP256, "ecdsa",
                Pem("PUBLIC KEY", Spki(algorithm, ec_point)));
}

Result<crypto::PublicKey> RsaTufKey(std::span<const uint8_t> modulus,
                                    std::span<const uint8_t> exponent) {
  if (modulus.empty() || exponent.empty()) {
    return MakeError(ErrorKind::kCrypto, "the token's RSA public key is empty");
  }
  // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
  const Bytes rsa_key = Tlv(0x30, Concat({DerInteger(modulus), DerInteger(exponent)}));
  const Bytes algorithm = Concat({kRsaEncryptionOid, kDerNull});
  return TufKey(crypto::KeyScheme::kRsaPssSha256, "rsa",
                Pem("PUBLIC KEY", Spki(algorithm, rsa_key)));
}

Result<std::vector<uint8_t>> EcdsaRawToDer(std::span<const uint8_t> raw) {
  if (raw.empty() || raw.size() % 2 != 0 || raw.size() > 132) {
    return MakeError(ErrorKind::kCrypto, "the token returned a malformed ECDSA signature (" +
                                             std::to_string(raw.size()) + " bytes)");
  }
  const size_t half = raw.size() / 2;
  return Tlv(0x30, Concat({DerInteger(raw.first(half)), DerInteger(raw.subspan(half))}));
}

std::vector<uint8_t> DerInteger(std::span<const uint8_t> big_endian_unsigned) {
  size_t skip = 0;
  while (skip + 1 < big_endian_unsigned.size() && big_endian_unsigned[skip] == 0) ++skip;
  Bytes body;
  std::span<const uint8_t> digits = big_endian_unsigned.subspan(skip);
  if (digits.empty()) {
    body.push_back(0);
  } else {
    if ((digits[0] & 0x80) != 0) body.push_back(0);  // keep it positive
    body.insert(body.end(), digits.begin(), digits.end());
  }
  return Tlv(0x02, body);
}

std::string Pem(std::string_view label, std::span<const uint8_t> der) {
  const std::string base64 = Base64(der);
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (size_t i = 0; i < base64.size(); i += 64) out += base64.substr(i, 64) + "\n";
  out += "-----END " + std::string(label) + "-----\n";
  return out;
}

}  // namespace mdu::signer::pkcs11
