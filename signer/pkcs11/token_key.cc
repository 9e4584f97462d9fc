#include "signer/pkcs11/token_key.h"

#include <algorithm>
#include <type_traits>

#include "core/crypto/hash.h"
#include "signer/pkcs11/key_encoding.h"
#include "signer/pkcs11/session.h"
#include "signer/pkcs11/uri.h"

namespace mdu::signer::pkcs11 {
namespace {

static_assert(std::is_same_v<CK_OBJECT_HANDLE, unsigned long>);  // NOLINT(runtime/int)

using Bytes = std::vector<uint8_t>;

// RFC 7512 values: unreserved characters stay, everything else is percent-encoded.
std::string EncodeValue(std::string_view value) {
  std::string out;
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += PercentEncodeAll({u});
    }
  }
  return out;
}

bool IsEd25519Params(const Bytes& params) {
  static const std::string_view kPrintable =
      "\x13\x0c"
      "edwards25519";
  return params == Ed25519EcParams() ||
         std::string_view(reinterpret_cast<const char*>(params.data()), params.size()) ==
             kPrintable;
}

// The TUF public key of a key object (a public key, or an RSA private key, which carries its
// modulus and public exponent).
Result<crypto::PublicKey> PublicKeyOfObject(const Session& session, CK_OBJECT_HANDLE object) {
  MDU_ASSIGN_OR_RETURN(CK_ULONG key_type, session.UlongAttribute(object, CKA_KEY_TYPE));
  switch (key_type) {
    case CKK_EC_EDWARDS: {
      MDU_ASSIGN_OR_RETURN(Bytes params, session.Attribute(object, CKA_EC_PARAMS));
      if (!IsEd25519Params(params)) {
        return MakeError(ErrorKind::kInvalidArgument,
                         session.Where() + ": an Edwards curve other than Ed25519");
      }
      MDU_ASSIGN_OR_RETURN(Bytes point, session.Attribute(object, CKA_EC_POINT));
      MDU_ASSIGN_OR_RETURN(Bytes raw, EcPointBytes(point, 32));
      return Ed25519TufKey(raw);
    }
    case CKK_EC: {
      MDU_ASSIGN_OR_RETURN(Bytes params, session.Attribute(object, CKA_EC_PARAMS));
      if (params != P256EcParams()) {
        return MakeError(ErrorKind::kInvalidArgument, session.Where() +
                                                          ": an EC key on a curve other than P-256 "
                                                          "(ecdsa-sha2-nistp256 needs P-256)");
      }
      MDU_ASSIGN_OR_RETURN(Bytes point, session.Attribute(object, CKA_EC_POINT));
      MDU_ASSIGN_OR_RETURN(Bytes raw, EcPointBytes(point, 65));
      return P256TufKey(raw);
    }
    case CKK_RSA: {
      MDU_ASSIGN_OR_RETURN(Bytes modulus, session.Attribute(object, CKA_MODULUS));
      MDU_ASSIGN_OR_RETURN(Bytes exponent, session.Attribute(object, CKA_PUBLIC_EXPONENT));
      return RsaTufKey(modulus, exponent);
    }
    default:
      return MakeError(ErrorKind::kInvalidArgument, session.Where() + ": key type 0x" +
                                                        std::to_string(key_type) +
                                                        " is not ed25519, ecdsa P-256 or RSA");
  }
}

// The public key paired with `private_key`: the public key object with its CKA_ID (else its
// label); RSA private keys also carry the public half themselves.
Result<crypto::PublicKey> PairedPublicKey(Session& session, CK_OBJECT_HANDLE private_key) {
  Session::Query query;
  query.object_class = CKO_PUBLIC_KEY;
  MDU_ASSIGN_OR_RETURN(Bytes id, session.Attribute(private_key, CKA_ID));
  if (!id.empty()) {
    query.id = id;
  } else {
    MDU_ASSIGN_OR_RETURN(Bytes label, session.Attribute(private_key, CKA_LABEL));
    query.label = std::string(label.begin(), label.end());
  }
  MDU_ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> found, session.Find(query));
  if (found.size() == 1) return PublicKeyOfObject(session, found[0]);
  MDU_ASSIGN_OR_RETURN(CK_ULONG key_type, session.UlongAttribute(private_key, CKA_KEY_TYPE));
  if (key_type == CKK_RSA) return PublicKeyOfObject(session, private_key);
  return MakeError(found.empty() ? ErrorKind::kNotFound : ErrorKind::kInvalidArgument,
                   session.Where() + ": " +
                       (found.empty() ? "no public key object with the private key's id"
                                      : "several public key objects share the private key's id"));
}

Result<CK_OBJECT_HANDLE> OnlyOne(const std::vector<CK_OBJECT_HANDLE>& found, const Session& session,
                                 std::string_view what) {
  if (found.empty()) {
    return MakeError(ErrorKind::kNotFound,
                     session.Where() + ": no " + std::string(what) +
                         " with this object/id on the token (check object=LABEL and id=)");
  }
  if (found.size() > 1) {
    return MakeError(ErrorKind::kInvalidArgument,
                     session.Where() + ": " + std::to_string(found.size()) + " " +
                         std::string(what) + "s match; add id=... to the URI");
  }
  return found[0];
}

}  // namespace

TokenSigner::TokenSigner(std::unique_ptr<Session> session, unsigned long key,  // NOLINT
                         crypto::PublicKey public_key)
    : session_(std::move(session)), key_(key), public_key_(std::move(public_key)) {}

TokenSigner::~TokenSigner() = default;

Result<std::unique_ptr<TokenSigner>> TokenSigner::Open(std::string_view uri_text,
                                                       const PassphraseSource& pin_source) {
  MDU_ASSIGN_OR_RETURN(Pkcs11Uri uri, ParsePkcs11Uri(uri_text));
  MDU_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::Open(uri, false));
  MDU_RETURN_IF_ERROR(session->Login(pin_source));
  MDU_ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> found,
                       session->Find(session->UriQuery(CKO_PRIVATE_KEY)));
  MDU_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE key, OnlyOne(found, *session, "private key"));
  MDU_ASSIGN_OR_RETURN(crypto::PublicKey public_key, PairedPublicKey(*session, key));
  return std::unique_ptr<TokenSigner>(
      new TokenSigner(std::move(session), key, std::move(public_key)));
}

Result<std::vector<uint8_t>> TokenSigner::Sign(std::span<const uint8_t> message) const {
  std::lock_guard lock(mutex_);
  CK_FUNCTION_LIST* fn = session_->fn();
  CK_RSA_PKCS_PSS_PARAMS pss{CKM_SHA256, CKG_MGF1_SHA256, 32};
  CK_MECHANISM mechanism{CKM_EDDSA, nullptr, 0};
  Bytes data(message.begin(), message.end());
  switch (public_key_.scheme()) {
    case crypto::KeyScheme::kEd25519:
      break;
    case crypto::KeyScheme::kEcdsaP256:
      mechanism.mechanism = CKM_ECDSA;
      data = crypto::Digest(crypto::HashAlgorithm::kSha256, message);
      break;
    case crypto::KeyScheme::kRsaPssSha256:
      mechanism = {CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof(pss)};
      break;
  }
  const std::string where = session_->Where();
  CK_RV rv = fn->C_SignInit(session_->handle(), &mechanism, key_);
  if (rv != CKR_OK) return MakeError(RvError(rv, "C_SignInit", where));
  CK_ULONG size = 0;
  rv = fn->C_Sign(session_->handle(), data.data(), data.size(), nullptr, &size);
  if (rv != CKR_OK) return MakeError(RvError(rv, "C_Sign", where));
  Bytes signature(size);
  rv = fn->C_Sign(session_->handle(), data.data(), data.size(), signature.data(), &size);
  if (rv != CKR_OK) return MakeError(RvError(rv, "C_Sign", where));
  signature.resize(size);
  if (public_key_.scheme() == crypto::KeyScheme::kEcdsaP256) {
    MDU_ASSIGN_OR_RETURN(signature, EcdsaRawToDer(signature));
  }
  // A token whose public key object does not belong to the private key would otherwise produce
  // metadata that no device accepts; catch it here.
  if (!public_key_.Verify(message, signature)) {
    return MakeError(ErrorKind::kCrypto,
                     where +
                         ": the token's signature does not verify under the key's public "
                         "key object (mismatched key pair?)");
  }
  return signature;
}

Result<crypto::PublicKey> ReadTokenPublicKey(std::string_view uri_text) {
  MDU_ASSIGN_OR_RETURN(Pkcs11Uri uri, ParsePkcs11Uri(uri_text));
  MDU_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::Open(uri, false));
  MDU_ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> found,
                       session->Find(session->UriQuery(CKO_PUBLIC_KEY)));
  MDU_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE key, OnlyOne(found, *session, "public key"));
  return PublicKeyOfObject(*session, key);
}

Result<GeneratedTokenKey> GenerateTokenKey(std::string_view uri_text, crypto::KeyScheme scheme,
                                           const PassphraseSource& pin_source, unsigned rsa_bits) {
  if (scheme == crypto::KeyScheme::kRsaPssSha256 && rsa_bits < 2048) {
    return MakeError(ErrorKind::kInvalidArgument, "RSA keys need at least 2048 bits");
  }
  MDU_ASSIGN_OR_RETURN(Pkcs11Uri uri, ParsePkcs11Uri(uri_text));
  MDU_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::Open(uri, true));
  MDU_RETURN_IF_ERROR(session->Login(pin_source));
  CK_FUNCTION_LIST* fn = session->fn();
  const std::string where = session->Where();

  // Never add a second key under a label or id that already names one: a later URI would then
  // match two keys (or the wrong one).
  if (!uri.object.empty()) {
    MDU_ASSIGN_OR_RETURN(auto by_label, session->Find({std::nullopt, uri.object, std::nullopt}));
    if (!by_label.empty()) {
      return MakeError(ErrorKind::kInvalidArgument,
                       where + ": the token already holds an object labelled \"" + uri.object +
                           "\"; choose another object=");
    }
  }
  Bytes id;
  if (uri.id) {
    id = *uri.id;
    if (id.empty()) return MakeError(ErrorKind::kInvalidArgument, where + ": empty id=");
    MDU_ASSIGN_OR_RETURN(auto by_id, session->Find({std::nullopt, std::nullopt, id}));
    if (!by_id.empty()) {
      return MakeError(ErrorKind::kInvalidArgument,
                       where +
                           ": the token already holds an object with this id; choose "
                           "another id=");
    }
  } else {
    id.resize(16);
    CK_RV rv = fn->C_GenerateRandom(session->handle(), id.data(), id.size());
    if (rv != CKR_OK) return MakeError(RvError(rv, "C_GenerateRandom", where));
  }

  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  std::string label = uri.object;
  Bytes ec_params;
  CK_ULONG modulus_bits = rsa_bits;
  uint8_t public_exponent[] = {0x01, 0x00, 0x01};
  CK_MECHANISM mechanism{CKM_EC_EDWARDS_KEY_PAIR_GEN, nullptr, 0};
  std::vector<CK_ATTRIBUTE> public_template = {
      {CKA_TOKEN, &yes, sizeof(yes)},
      {CKA_PRIVATE, &no, sizeof(no)},
      {CKA_VERIFY, &yes, sizeof(yes)},
      {CKA_ID, id.data(), id.size()},
  };
  std::vector<CK_ATTRIBUTE> private_template = {
      {CKA_TOKEN, &yes, sizeof(yes)},     {CKA_PRIVATE, &yes, sizeof(yes)},
      {CKA_SENSITIVE, &yes, sizeof(yes)}, {CKA_EXTRACTABLE, &no, sizeof(no)},
      {CKA_SIGN, &yes, sizeof(yes)},      {CKA_ID, id.data(), id.size()},
  };
  if (!label.empty()) {
    public_template.push_back({CKA_LABEL, label.data(), label.size()});
    private_template.push_back({CKA_LABEL, label.data(), label.size()});
  }
  switch (scheme) {
    case crypto::KeyScheme::kEd25519:
    case crypto::KeyScheme::kEcdsaP256:
      if (scheme == crypto::KeyScheme::kEd25519) {
        ec_params = Ed25519EcParams();
      } else {
        mechanism.mechanism = CKM_EC_KEY_PAIR_GEN;
        ec_params = P256EcParams();
      }
      public_template.push_back({CKA_EC_PARAMS, ec_params.data(), ec_params.size()});
      private_template.push_back({CKA_DERIVE, &no, sizeof(no)});
      break;
    case crypto::KeyScheme::kRsaPssSha256:
      mechanism.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
      public_template.push_back({CKA_MODULUS_BITS, &modulus_bits, sizeof(modulus_bits)});
      public_template.push_back({CKA_PUBLIC_EXPONENT, public_exponent, sizeof(public_exponent)});
      private_template.push_back({CKA_DECRYPT, &no, sizeof(no)});
      private_template.push_back({CKA_UNWRAP, &no, sizeof(no)});
      break;
  }
  CK_OBJECT_HANDLE public_handle = 0, private_handle = 0;
  CK_RV rv = fn->C_GenerateKeyPair(session->handle(), &mechanism, public_template.data(),
                                   public_template.size(), private_template.data(),
                                   private_template.size(), &public_handle, &private_handle);
  if (rv != CKR_OK) return MakeError(RvError(rv, "C_GenerateKeyPair", where));
  Result<crypto::PublicKey> public_key = PublicKeyOfObject(*session, public_handle);
  if (!public_key) {
    // Leave no half-usable key behind.
    fn->C_DestroyObject(session->handle(), private_handle);
    fn->C_DestroyObject(session->handle(), public_handle);
    return MakeError(public_key.error().WithContext("reading the generated public key"));
  }
  std::string canonical = "pkcs11:token=" + EncodeValue(session->token_label());
  if (!label.empty()) canonical += ";object=" + EncodeValue(label);
  canonical += ";id=" + PercentEncodeAll(id);
  return GeneratedTokenKey{std::move(*public_key), std::move(canonical)};
}

}  // namespace mdu::signer::pkcs11
