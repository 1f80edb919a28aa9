#include "core/jwe.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <catch2/catch.hpp>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

using namespace webhookd;
using nlohmann::json;

namespace {

using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

pkey_ptr new_rsa_key(unsigned bits) {
  pkey_ptr key(EVP_RSA_gen(bits), &EVP_PKEY_free);
  REQUIRE(key);
  return key;
}

std::string public_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  REQUIRE(PEM_write_bio_PUBKEY(bio.get(), key) == 1);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::vector<std::string> split_compact(const std::string& compact) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    auto dot = compact.find('.', start);
    parts.push_back(compact.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

// An independent decryption of a JWE compact string (RSA-OAEP-256 + A256GCM) with the private
// key: nullopt when any step fails, the tag check included.
std::optional<std::string> decrypt(EVP_PKEY* key, const std::string& compact) {
  auto parts = split_compact(compact);
  if (parts.size() != 5) return std::nullopt;
  auto header = base64url_decode(parts[0]);
  auto encrypted_key = base64url_decode(parts[1]);
  auto iv = base64url_decode(parts[2]);
  auto ciphertext = base64url_decode(parts[3]);
  auto tag = base64url_decode(parts[4]);
  if (!header || !encrypted_key || !iv || !ciphertext || !tag) return std::nullopt;
  auto h = json::parse(*header, nullptr, false);
  if (h != json{{"alg", "RSA-OAEP-256"}, {"enc", "A256GCM"}}) return std::nullopt;

  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> rsa(EVP_PKEY_CTX_new(key, nullptr),
                                                                  &EVP_PKEY_CTX_free);
  std::size_t cek_size = 512;
  std::string cek(cek_size, '\0');
  if (EVP_PKEY_decrypt_init(rsa.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_padding(rsa.get(), RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(rsa.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(rsa.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_decrypt(rsa.get(), reinterpret_cast<unsigned char*>(cek.data()), &cek_size,
                       reinterpret_cast<const unsigned char*>(encrypted_key->data()),
                       encrypted_key->size()) <= 0) {
    return std::nullopt;
  }
  cek.resize(cek_size);
  if (cek.size() != 32 || iv->size() != 12 || tag->size() != 16) return std::nullopt;

  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> aes(EVP_CIPHER_CTX_new(),
                                                                      &EVP_CIPHER_CTX_free);
  std::string plain(ciphertext->size() + 16, '\0');
  int len = 0;
  int total = 0;
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  if (EVP_DecryptInit_ex(aes.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(cek.data()),
                         reinterpret_cast<const unsigned char*>(iv->data())) != 1 ||
      EVP_DecryptUpdate(aes.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(parts[0].data()),
                        static_cast<int>(parts[0].size())) != 1 ||
      EVP_DecryptUpdate(aes.get(), out, &len,
                        reinterpret_cast<const unsigned char*>(ciphertext->data()),
                        static_cast<int>(ciphertext->size())) != 1) {
    return std::nullopt;
  }
  total = len;
  if (EVP_CIPHER_CTX_ctrl(aes.get(), EVP_CTRL_GCM_SET_TAG, 16, tag->data()) != 1 ||
      EVP_DecryptFinal_ex(aes.get(), out + total, &len) != 1) {
    return std::nullopt;
  }
  plain.resize(static_cast<std::size_t>(total + len));
  return plain;
}

const std::string body =
    R"({"id":"evt_1","type":"card.saved","timestamp":"2026-11-29T00:00:00.000Z","client_id":"acme",)"
    R"("data":{"card":{"number":"4242","exp":"12/30"},"items":[{"sku":"A"},{"sku":"B"}],"amount":5}})";

}  // namespace

TEST_CASE("jwe: the whole body becomes one compact JWE the private key decrypts", "[unit]") {
  auto key = new_rsa_key(2048);
  auto sealed = encrypt_delivery_body(body, public_pem(key.get()), "");
  REQUIRE(sealed.ok());
  CHECK(sealed.value().content_type == "application/jose");
  CHECK(split_compact(sealed.value().body).size() == 5);
  CHECK(decrypt(key.get(), sealed.value().body) == body);

  // A fresh content key and IV each time: two encryptions differ, both decrypt.
  auto again = encrypt_delivery_body(body, public_pem(key.get()), "");
  REQUIRE(again.ok());
  CHECK(again.value().body != sealed.value().body);
  CHECK(decrypt(key.get(), again.value().body) == body);
}

TEST_CASE("jwe: encrypt_fields replaces only those values, by dotted path", "[unit]") {
  auto key = new_rsa_key(2048);
  auto sealed = encrypt_delivery_body(body, public_pem(key.get()),
                                      R"(["data.card","data.items.1","data.missing"])");
  REQUIRE(sealed.ok());
  CHECK(sealed.value().content_type == "application/json");
  auto doc = json::parse(sealed.value().body);
  CHECK(doc.at("id") == "evt_1");
  CHECK(doc.at("data").at("amount") == 5);
  CHECK(doc.at("data").at("items").at(0) == json{{"sku", "A"}});
  CHECK_FALSE(doc.at("data").contains("missing"));
  REQUIRE(doc.at("data").at("card").is_string());
  CHECK(json::parse(*decrypt(key.get(), doc["data"]["card"])) ==
        json{{"number", "4242"}, {"exp", "12/30"}});
  CHECK(json::parse(*decrypt(key.get(), doc["data"]["items"][1])) == json{{"sku", "B"}});
}

TEST_CASE("jwe: a tampered ciphertext or another key does not decrypt", "[unit]") {
  auto key = new_rsa_key(2048);
  auto other = new_rsa_key(2048);
  auto sealed = jwe_encrypt(public_pem(key.get()), "secret");
  REQUIRE(sealed.ok());
  CHECK(decrypt(key.get(), sealed.value()) == std::string("secret"));
  CHECK_FALSE(decrypt(other.get(), sealed.value()));
  auto parts = split_compact(sealed.value());
  auto ciphertext = *base64url_decode(parts[3]);
  ciphertext[0] = static_cast<char>(ciphertext[0] ^ 1);
  std::string tampered = parts[0] + "." + parts[1] + "." + parts[2] + "." +
                         base64url_encode(ciphertext) + "." + parts[4];
  CHECK_FALSE(decrypt(key.get(), tampered));
}

TEST_CASE("jwe: public keys are checked", "[unit]") {
  auto key = new_rsa_key(2048);
  CHECK_FALSE(rsa_public_key_error(public_pem(key.get())));
  auto small = new_rsa_key(1024);
  CHECK(rsa_public_key_error(public_pem(small.get())) ==
        std::string("must be an RSA key of at least 2048 bits"));
  pkey_ptr ec(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  REQUIRE(ec);
  CHECK(rsa_public_key_error(public_pem(ec.get())) == std::string("must be an RSA key"));
  CHECK(rsa_public_key_error("not a key") ==
        std::string("is not a PEM public key (-----BEGIN PUBLIC KEY-----)"));
  CHECK_FALSE(jwe_encrypt("not a key", "x").ok());
  CHECK_FALSE(encrypt_delivery_body(body, "not a key", "").ok());
}
