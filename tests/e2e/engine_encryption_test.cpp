// Payload encryption (design section 4): a webhook with a public key receives its body, or the
// encrypt_fields paths, as JWE compact strings that an independent JOSE library (python3-jwcrypto)
// decrypts with the private key; the Standard Webhooks signature covers the body as sent.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/e2e/engine_support.hpp"

using namespace webhookd::e2e;
using nlohmann::json;

namespace {

constexpr milliseconds delivery_timeout{30'000};

struct rsa_key_files {
  std::string dir;
  std::string private_pem_path;
  std::string public_pem;

  rsa_key_files() {
    char pattern[] = "/tmp/webhookd-jwe-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    dir = pattern;
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_RSA_gen(2048), &EVP_PKEY_free);
    REQUIRE(key);
    private_pem_path = dir + "/private.pem";
    std::unique_ptr<FILE, decltype(&std::fclose)> out(std::fopen(private_pem_path.c_str(), "w"),
                                                      &std::fclose);
    REQUIRE(out);
    REQUIRE(PEM_write_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1);
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    REQUIRE(PEM_write_bio_PUBKEY(bio.get(), key.get()) == 1);
    char* data = nullptr;
    long size = BIO_get_mem_data(bio.get(), &data);
    public_pem.assign(data, static_cast<std::size_t>(size));
  }
  ~rsa_key_files() {
    std::remove(private_pem_path.c_str());
    std::remove((dir + "/token").c_str());
    ::rmdir(dir.c_str());
  }
  rsa_key_files(const rsa_key_files&) = delete;
  rsa_key_files& operator=(const rsa_key_files&) = delete;

  /// The plaintext of a JWE compact string, decrypted by python3-jwcrypto, which also checks
  /// that the header names RSA-OAEP-256 and A256GCM.
  std::string decrypt_with_jwcrypto(const std::string& compact) const {
    const std::string token_path = dir + "/token";
    std::ofstream(token_path) << compact;
    const std::string command =
        "/usr/bin/python3 -c '"
        "import sys\n"
        "from jwcrypto import jwk, jwe\n"
        "key = jwk.JWK.from_pem(open(sys.argv[1], \"rb\").read())\n"
        "token = jwe.JWE()\n"
        "token.deserialize(open(sys.argv[2]).read(), key=key)\n"
        "assert token.jose_header == {\"alg\": \"RSA-OAEP-256\", \"enc\": \"A256GCM\"}\n"
        "sys.stdout.write(token.payload.decode())\n"
        "' " +
        private_pem_path + " " + token_path + " 2>&1";
    std::unique_ptr<FILE, decltype(&::pclose)> pipe(::popen(command.c_str(), "r"), &::pclose);
    REQUIRE(pipe);
    std::string output;
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe.get()))
      output.append(buffer, n);
    int status = ::pclose(pipe.release());
    INFO("jwcrypto: " << output);
    REQUIRE(status == 0);
    return output;
  }
};

}  // namespace

TEST_CASE("a webhook with a public key receives JWE that a JOSE library decrypts",
          "[e2e][engine][sqlite]") {
  engine_world world;
  rsa_key_files keys;
  world.add_webhook("/sealed/whole", {"invoice.paid"}, {{"public_key", keys.public_pem}});
  world.add_webhook("/sealed/fields", {"invoice.paid"},
                    {{"public_key", keys.public_pem}, {"encrypt_fields", {"data.card"}}});

  json payload{{"card", {{"number", "4242424242424242"}, {"exp", "12/30"}}}, {"amount", 5}};
  auto answer = world.poster().post_event(
      make_event(world.client_id(), "evt_sealed_1", "invoice.paid", payload));
  INFO(answer.describe());
  REQUIRE(answer.status == 202);

  REQUIRE(world.sink().wait_for("/sealed/whole", 1, delivery_timeout));
  REQUIRE(world.sink().wait_for("/sealed/fields", 1, delivery_timeout));

  json whole = world.sink().deliveries("/sealed/whole").at(0);
  INFO("whole-body delivery: " << whole.dump(2));
  CHECK(whole.at("verified") == "verified");
  CHECK(whole.at("headers").value("content-type", "") == "application/jose");
  const std::string sealed_body = whole.at("body").get<std::string>();
  CHECK(sealed_body.find("4242") == std::string::npos);
  json opened = json::parse(keys.decrypt_with_jwcrypto(sealed_body));
  CHECK(opened.at("id") == "evt_sealed_1");
  CHECK(opened.at("type") == "invoice.paid");
  CHECK(opened.at("data") == payload);

  json fields = world.sink().deliveries("/sealed/fields").at(0);
  INFO("field delivery: " << fields.dump(2));
  CHECK(fields.at("verified") == "verified");
  CHECK(fields.at("headers").value("content-type", "") == "application/json");
  json body = json::parse(fields.at("body").get<std::string>());
  CHECK(body.at("id") == "evt_sealed_1");
  CHECK(body.at("data").at("amount") == 5);
  REQUIRE(body.at("data").at("card").is_string());
  CHECK(json::parse(keys.decrypt_with_jwcrypto(body["data"]["card"].get<std::string>())) ==
        payload.at("card"));
}
