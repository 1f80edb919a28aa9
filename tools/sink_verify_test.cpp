#include "sink_verify.hpp"

#include <catch2/catch.hpp>

using namespace webhookd::sink;

namespace {
// The published Standard Webhooks test vector.
constexpr const char* vector_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr const char* vector_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr const char* vector_timestamp = "1614265330";
constexpr const char* vector_body = R"({"test": 2432232314})";
constexpr const char* vector_signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
}  // namespace

TEST_CASE("base64 round-trips and matches RFC 4648 vectors", "[unit][sink]") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_decode("Zm9vYmE=") == std::optional<std::string>{"fooba"});
  CHECK(base64_decode("Zm9vYg") == std::optional<std::string>{"foob"});
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  CHECK(base64_decode(base64_encode(all)) == std::optional<std::string>{all});
}

TEST_CASE("base64_decode rejects what is not base64", "[unit][sink]") {
  CHECK_FALSE(base64_decode("Zm9v!"));
  CHECK_FALSE(base64_decode("Z"));      // a lone digit cannot form a byte
  CHECK_FALSE(base64_decode("Zm9=="));  // padding that does not complete a group
  CHECK_FALSE(base64_decode("Zh=="));   // non-zero leftover bits
  CHECK_FALSE(base64_decode("Zm 9v"));
}

TEST_CASE("decode_secret strips whsec_ and decodes the key", "[unit][sink]") {
  const auto key = decode_secret(vector_secret);
  REQUIRE(key);
  CHECK(key->size() == 24);
  CHECK(decode_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == key);
  CHECK_FALSE(decode_secret("whsec_"));
  CHECK_FALSE(decode_secret("whsec_not base64"));
}

TEST_CASE("sign_v1 reproduces the Standard Webhooks test vector", "[unit][sink]") {
  const auto key = decode_secret(vector_secret);
  REQUIRE(key);
  CHECK(sign_v1(*key, vector_id, vector_timestamp, vector_body) == vector_signature);
}

TEST_CASE("verify accepts the test vector and rejects tampering", "[unit][sink]") {
  const std::vector<std::string> keys{*decode_secret(vector_secret)};
  CHECK(verify(keys, vector_id, vector_timestamp, vector_body, vector_signature) ==
        verification::verified);
  CHECK(verify(keys, vector_id, vector_timestamp, R"({"test": 2432232315})", vector_signature) ==
        verification::failed);
  CHECK(verify(keys, "msg_other", vector_timestamp, vector_body, vector_signature) ==
        verification::failed);
  CHECK(verify(keys, vector_id, "1614265331", vector_body, vector_signature) ==
        verification::failed);
  CHECK(verify(keys, vector_id, vector_timestamp, vector_body,
               "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=") == verification::failed);
  // The right signature under another version tag does not count.
  CHECK(verify(keys, vector_id, vector_timestamp, vector_body,
               "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=") == verification::failed);
  CHECK(verify(keys, vector_id, vector_timestamp, vector_body, "") == verification::failed);
  CHECK(verify(keys, "", vector_timestamp, vector_body, vector_signature) == verification::failed);
}

TEST_CASE("verify handles rotation: several signatures and several keys", "[unit][sink]") {
  const std::string old_key = *decode_secret(vector_secret);
  const std::string new_key = *decode_secret("whsec_" + base64_encode("another secret key!!"));
  const std::string new_sig = sign_v1(new_key, vector_id, vector_timestamp, vector_body);
  REQUIRE(new_sig != vector_signature);
  const std::string both = new_sig + " " + vector_signature;

  CHECK(verify({old_key}, vector_id, vector_timestamp, vector_body, both) ==
        verification::verified);
  CHECK(verify({new_key}, vector_id, vector_timestamp, vector_body, both) ==
        verification::verified);
  CHECK(verify({new_key}, vector_id, vector_timestamp, vector_body, vector_signature) ==
        verification::failed);
  CHECK(verify({new_key, old_key}, vector_id, vector_timestamp, vector_body, vector_signature) ==
        verification::verified);
  CHECK(verify({}, vector_id, vector_timestamp, vector_body, both) == verification::unchecked);
}
