// A session on the one token a PKCS#11 URI names, with the operations the signer needs: log in
// with the user PIN, find the key objects the URI names, read their attributes.
//
// The PIN comes from the signer's passphrase sources (signer/keystore/passphrase.h): an explicit
// --passphrase-env/-fd/-file wins, then the URI's pin-source=file:PATH, then a prompt without
// echo. It lives only in a SecureBuffer and is never printed or logged.
//
// Ownership: a Session keeps its Module alive and closes the PKCS#11 session on destruction
// (the token logs out when the process's last session on it closes).
// Thread-safety: one thread at a time per Session.
#ifndef MDU_SIGNER_PKCS11_SESSION_H_
#define MDU_SIGNER_PKCS11_SESSION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "signer/keystore/passphrase.h"
#include "signer/pkcs11/module.h"
#include "signer/pkcs11/uri.h"

namespace mdu::signer::pkcs11 {

class Session {
 public:
  // Loads the URI's module, finds exactly one token matching its token/manufacturer/model/
  // serial/slot-id attributes (kNotFound lists the tokens present) and opens a session.
  static Result<std::unique_ptr<Session>> Open(const Pkcs11Uri& uri, bool read_write);

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session();

  // Logs the user in unless the token needs no login or this process is logged in already.
  // A wrong PIN is kInvalidArgument naming the token and CKR_PIN_INCORRECT.
  Status Login(const PassphraseSource& pin_source);

  // Objects matching every attribute the query sets.
  struct Query {
    std::optional<CK_OBJECT_CLASS> object_class;
    std::optional<std::string> label;        // CKA_LABEL
    std::optional<std::vector<uint8_t>> id;  // CKA_ID
  };
  Result<std::vector<CK_OBJECT_HANDLE>> Find(const Query& query);
  // The URI's object and id as a query for objects of `object_class`.
  Query UriQuery(CK_OBJECT_CLASS object_class) const;

  // An attribute's bytes; kCrypto naming the attribute when the token refuses it (sensitive,
  // absent). UlongAttribute for CK_ULONG-typed attributes.
  Result<std::vector<uint8_t>> Attribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const;
  Result<CK_ULONG> UlongAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const;

  CK_FUNCTION_LIST* fn() const { return module_->fn(); }
  CK_SESSION_HANDLE handle() const { return session_; }
  const Pkcs11Uri& uri() const { return uri_; }
  const std::string& token_label() const { return token_label_; }
  // "<uri> (token "label" in <module>)": the context of every error.
  std::string Where() const;

 private:
  Session(std::shared_ptr<Module> module, Pkcs11Uri uri, CK_SLOT_ID slot, CK_SESSION_HANDLE session,
          std::string token_label)
      : module_(std::move(module)),
        uri_(std::move(uri)),
        slot_(slot),
        session_(session),
        token_label_(std::move(token_label)) {}

  std::shared_ptr<Module> module_;
  Pkcs11Uri uri_;
  CK_SLOT_ID slot_;
  CK_SESSION_HANDLE session_;
  std::string token_label_;
};

}  // namespace mdu::signer::pkcs11

#endif  // MDU_SIGNER_PKCS11_SESSION_H_
