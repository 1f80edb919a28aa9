#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/crypto.hpp"

/// Payload encryption of design section 4: JWE compact serialization (RFC 7516) with key
/// management RSA-OAEP-256 and content encryption A256GCM, so any JOSE library decrypts it with
/// the receiver's RSA private key.
namespace webhookd {

/// Why `pem` can't serve as a webhook's public key ("is not a PEM public key ...", "must be an
/// RSA key of at least 2048 bits"), or nullopt when it can.
std::optional<std::string> rsa_public_key_error(std::string_view pem);

/// The JWE compact string of `plaintext` encrypted to the RSA public key `pem` (a fresh content
/// key and IV each call): BASE64URL(header).BASE64URL(encrypted key).BASE64URL(iv).
/// BASE64URL(ciphertext).BASE64URL(tag), header {"alg":"RSA-OAEP-256","enc":"A256GCM"}.
crypto_result<std::string> jwe_encrypt(std::string_view pem, std::string_view plaintext);

/// A delivery body after encryption, and the content type to send it with.
struct encrypted_body {
  std::string body;
  std::string content_type;  ///< "application/jose" (whole body) or "application/json"
};

/// Encrypts a delivery body (core/delivery_body.hpp) for a webhook with a public key.
/// `encrypt_fields` is the webhook's JSON array of dotted paths ("data.card", "data.items.0"),
/// or empty: then the whole body becomes one JWE compact string (content type
/// application/jose). Otherwise the value at each path is replaced by the JWE compact string of
/// its JSON text and the body stays JSON; a path the body doesn't have is left out.
/// Precondition: `body` is a JSON object and `encrypt_fields` empty or a JSON array of strings.
crypto_result<encrypted_body> encrypt_delivery_body(std::string_view body, std::string_view pem,
                                                    std::string_view encrypt_fields);

}  // namespace webhookd
