#include "core/source_signature.hpp"

#include <catch2/catch.hpp>
#include <cctype>

#include "core/crypto.hpp"

using namespace webhookd;

namespace {

constexpr std::string_view secret = "src-secret-7f3a9c";
constexpr int64_t now = 1'700'000'000;
constexpr std::string_view body =
    R"({"event_id":"evt_1","client_id":"c1","event_type":"order.paid"})";

std::string sign(int64_t timestamp = now, std::string_view payload = body,
                 std::string_view key = secret) {
  auto signature = sign_source_request(key, timestamp, payload);
  REQUIRE(signature.ok());
  return *signature;
}

source_signature_errc refusal(std::string_view timestamp, std::string_view signature,
                              std::string_view payload = body, std::string_view key = secret) {
  auto verified = verify_source_request(key, timestamp, signature, payload, now);
  REQUIRE_FALSE(verified.ok());
  CHECK_FALSE(verified.err().message.empty());
  return verified.err().code;
}

}  // namespace

TEST_CASE("sign_source_request is v1= and hex HMAC of timestamp.body", "[unit]") {
  // Independent value: printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'k'
  auto signature = sign_source_request("k", 1700000000, R"({"a":1})");
  REQUIRE(signature.ok());
  CHECK(*signature == "v1=1b6ad1bc9bf48c52ce01939866d5877c6cc4e87ddad27e16673cb8c4964394a3");
}

TEST_CASE("a correctly signed request verifies", "[unit]") {
  CHECK(verify_source_request(secret, std::to_string(now), sign(), body, now).ok());
  CHECK(verify_source_request(secret, std::to_string(now), sign(now, ""), "", now).ok());
}

TEST_CASE("upper-case hex is accepted", "[unit]") {
  auto signature = sign();
  for (std::size_t i = 3; i < signature.size(); ++i)
    signature[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(signature[i])));
  CHECK(verify_source_request(secret, std::to_string(now), signature, body, now).ok());
}

TEST_CASE("several v1= entries separated by spaces or commas are accepted", "[unit]") {
  auto good = sign();
  auto other = sign(now, body, "another-secret");
  auto timestamp = std::to_string(now);
  for (std::string header : {other + " " + good, good + "," + other, other + ", " + good,
                             "v0=abc," + good, " " + good + " "}) {
    CHECK(verify_source_request(secret, timestamp, header, body, now).ok());
  }
  CHECK(refusal(timestamp, other + " " + other) == source_signature_errc::bad_signature);
}

TEST_CASE("stale timestamps are refused either way", "[unit]") {
  CHECK(verify_source_request(secret, std::to_string(now - 300), sign(now - 300), body, now).ok());
  CHECK(verify_source_request(secret, std::to_string(now + 300), sign(now + 300), body, now).ok());
  CHECK(refusal(std::to_string(now - 301), sign(now - 301)) ==
        source_signature_errc::stale_timestamp);
  CHECK(refusal(std::to_string(now + 301), sign(now + 301)) ==
        source_signature_errc::stale_timestamp);
  CHECK(refusal("0", sign(0)) == source_signature_errc::stale_timestamp);
}

TEST_CASE("non-numeric timestamps are refused", "[unit]") {
  for (std::string_view timestamp :
       {"", "abc", "-1700000000", "1700000000.5", " 1700000000", "1700000000s", "0x6553F100"}) {
    CHECK(refusal(timestamp, sign()) == source_signature_errc::bad_timestamp);
  }
}

TEST_CASE("tampered requests are refused", "[unit]") {
  auto timestamp = std::to_string(now);
  auto signature = sign();
  SECTION("body changed") {
    CHECK(refusal(timestamp, signature, R"({"event_id":"evt_2","client_id":"c1"})") ==
          source_signature_errc::bad_signature);
    CHECK(refusal(timestamp, signature, std::string{body} + " ") ==
          source_signature_errc::bad_signature);
  }
  SECTION("timestamp changed within the window") {
    CHECK(refusal(std::to_string(now - 1), signature) == source_signature_errc::bad_signature);
  }
  SECTION("signature changed") {
    auto flipped = signature;
    flipped.back() = flipped.back() == '0' ? '1' : '0';
    CHECK(refusal(timestamp, flipped) == source_signature_errc::bad_signature);
    CHECK(refusal(timestamp, signature.substr(0, signature.size() - 2)) ==
          source_signature_errc::bad_signature);
    CHECK(refusal(timestamp, "v2=" + signature.substr(3)) == source_signature_errc::bad_signature);
    CHECK(refusal(timestamp, signature.substr(3)) == source_signature_errc::bad_signature);
    CHECK(refusal(timestamp, "v1=zz") == source_signature_errc::bad_signature);
    CHECK(refusal(timestamp, "") == source_signature_errc::bad_signature);
  }
  SECTION("wrong secret") {
    CHECK(refusal(timestamp, signature, body, "not-the-secret") ==
          source_signature_errc::bad_signature);
  }
}

TEST_CASE("an empty source secret is refused", "[unit]") {
  auto signed_empty = sign_source_request("", now, body);
  REQUIRE_FALSE(signed_empty.ok());
  CHECK(signed_empty.err().code == source_signature_errc::bad_secret);
  CHECK(refusal(std::to_string(now), sign(), body, "") == source_signature_errc::bad_secret);
}

TEST_CASE("source signature error codes have stable names", "[unit]") {
  CHECK(std::string(to_string(source_signature_errc::bad_timestamp)) == "bad_timestamp");
  CHECK(std::string(to_string(source_signature_errc::stale_timestamp)) == "stale_timestamp");
  CHECK(std::string(to_string(source_signature_errc::bad_signature)) == "bad_signature");
}
