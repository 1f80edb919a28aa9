#include "core/jwe.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

namespace webhookd {

namespace {

using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

constexpr std::size_t content_key_size = 32;  // A256GCM
constexpr std::size_t iv_size = 12;
constexpr std::size_t tag_size = 16;
constexpr int min_rsa_bits = 2048;
// BASE64URL of {"alg":"RSA-OAEP-256","enc":"A256GCM"}: also the AAD of the content encryption.
constexpr std::string_view protected_header = R"({"alg":"RSA-OAEP-256","enc":"A256GCM"})";

crypto_error openssl_error(const std::string& what) {
  unsigned long code = ERR_get_error();
  std::string detail = what;
  if (code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    detail += ": ";
    detail += text;
  }
  ERR_clear_error();
  return {crypto_errc::openssl_failure, detail};
}

pkey_ptr read_public_key(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return {nullptr, &EVP_PKEY_free};
  pkey_ptr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  ERR_clear_error();
  return key;
}

crypto_result<std::string> rsa_oaep256_encrypt(EVP_PKEY* key, std::string_view data) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(key, nullptr),
                                                                  &EVP_PKEY_CTX_free);
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) <= 0) {
    return openssl_error("RSA-OAEP-256 setup failed");
  }
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t out_size = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &out_size, in, data.size()) <= 0) {
    return openssl_error("RSA-OAEP-256 failed");
  }
  std::string out(out_size, '\0');
  if (EVP_PKEY_encrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &out_size, in,
                       data.size()) <= 0) {
    return openssl_error("RSA-OAEP-256 failed");
  }
  out.resize(out_size);
  return out;
}

struct gcm_output {
  std::string ciphertext;
  std::string tag;
};

crypto_result<gcm_output> aes256gcm_encrypt(std::string_view key, std::string_view iv,
                                            std::string_view aad, std::string_view plaintext) {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      &EVP_CIPHER_CTX_free);
  const auto* key_bytes = reinterpret_cast<const unsigned char*>(key.data());
  const auto* iv_bytes = reinterpret_cast<const unsigned char*>(iv.data());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()),
                          nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_bytes, iv_bytes) != 1) {
    return openssl_error("A256GCM setup failed");
  }
  int len = 0;
  if (EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1) {
    return openssl_error("A256GCM failed");
  }
  gcm_output out;
  out.ciphertext.resize(plaintext.size() + 16);
  auto* cipher = reinterpret_cast<unsigned char*>(out.ciphertext.data());
  if (EVP_EncryptUpdate(ctx.get(), cipher, &len,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1) {
    return openssl_error("A256GCM failed");
  }
  int total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), cipher + total, &len) != 1) {
    return openssl_error("A256GCM failed");
  }
  total += len;
  out.ciphertext.resize(static_cast<std::size_t>(total));
  out.tag.resize(tag_size);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_size),
                          out.tag.data()) != 1) {
    return openssl_error("A256GCM tag failed");
  }
  return out;
}

crypto_result<std::string> encrypt_with_key(EVP_PKEY* key, std::string_view plaintext) {
  auto content_key = random_bytes(content_key_size);
  if (!content_key) return content_key.err();
  auto iv = random_bytes(iv_size);
  if (!iv) return iv.err();
  auto encrypted_key = rsa_oaep256_encrypt(key, content_key.value());
  if (!encrypted_key) return encrypted_key.err();
  const std::string header = base64url_encode(protected_header);
  auto sealed = aes256gcm_encrypt(content_key.value(), iv.value(), header, plaintext);
  if (!sealed) return sealed.err();
  return header + "." + base64url_encode(encrypted_key.value()) + "." +
         base64url_encode(iv.value()) + "." + base64url_encode(sealed.value().ciphertext) + "." +
         base64url_encode(sealed.value().tag);
}

// The JSON pointer of a dotted path ("data.card" -> "/data/card"), escaped per RFC 6901.
nlohmann::json::json_pointer pointer_of(const std::string& dotted) {
  std::string pointer;
  std::size_t start = 0;
  while (start <= dotted.size()) {
    auto end = dotted.find('.', start);
    if (end == std::string::npos) end = dotted.size();
    pointer += '/';
    for (char c : dotted.substr(start, end - start)) {
      if (c == '~') {
        pointer += "~0";
      } else if (c == '/') {
        pointer += "~1";
      } else {
        pointer += c;
      }
    }
    start = end + 1;
  }
  return nlohmann::json::json_pointer(pointer);
}

}  // namespace

std::optional<std::string> rsa_public_key_error(std::string_view pem) {
  auto key = read_public_key(pem);
  if (!key) return "is not a PEM public key (-----BEGIN PUBLIC KEY-----)";
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) return "must be an RSA key";
  if (EVP_PKEY_get_bits(key.get()) < min_rsa_bits) {
    return "must be an RSA key of at least " + std::to_string(min_rsa_bits) + " bits";
  }
  return std::nullopt;
}

crypto_result<std::string> jwe_encrypt(std::string_view pem, std::string_view plaintext) {
  auto key = read_public_key(pem);
  if (!key) return crypto_error{crypto_errc::invalid_argument, "not a PEM public key"};
  return encrypt_with_key(key.get(), plaintext);
}

crypto_result<encrypted_body> encrypt_delivery_body(std::string_view body, std::string_view pem,
                                                    std::string_view encrypt_fields) {
  auto key = read_public_key(pem);
  if (!key) return crypto_error{crypto_errc::invalid_argument, "not a PEM public key"};
  auto fields = encrypt_fields.empty() ? nlohmann::json::array()
                                       : nlohmann::json::parse(encrypt_fields, nullptr, false);
  if (!fields.is_array()) {
    return crypto_error{crypto_errc::invalid_argument, "encrypt_fields is not a JSON array"};
  }
  if (fields.empty()) {
    auto whole = encrypt_with_key(key.get(), body);
    if (!whole) return whole.err();
    return encrypted_body{std::move(whole.value()), "application/jose"};
  }
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (!doc.is_object()) {
    return crypto_error{crypto_errc::invalid_argument, "the body is not a JSON object"};
  }
  for (const auto& field : fields) {
    if (!field.is_string()) {
      return crypto_error{crypto_errc::invalid_argument, "encrypt_fields holds a non-string"};
    }
    const auto pointer = pointer_of(field.get<std::string>());
    if (!doc.contains(pointer)) continue;
    auto sealed = encrypt_with_key(key.get(), doc.at(pointer).dump());
    if (!sealed) return sealed.err();
    doc[pointer] = std::move(sealed.value());
  }
  return encrypted_body{doc.dump(), "application/json"};
}

}  // namespace webhookd
