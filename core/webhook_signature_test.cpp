#include "core/webhook_signature.hpp"

#include <catch2/catch.hpp>

#include "core/crypto.hpp"

using namespace webhookd;

namespace {

// The published Standard Webhooks test vector (also in the reference libraries' tests).
constexpr std::string_view spec_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view spec_msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr int64_t spec_timestamp = 1614265330;
constexpr std::string_view spec_body = R"({"test": 2432232314})";
constexpr std::string_view spec_signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

std::string fresh_secret() {
  auto secret = new_signing_secret();
  REQUIRE(secret.ok());
  return *secret;
}

std::string signed_header(std::string_view secret, int64_t timestamp = spec_timestamp,
                          std::string_view body = spec_body) {
  auto signature = sign_webhook(secret, spec_msg_id, timestamp, body);
  REQUIRE(signature.ok());
  return *signature;
}

webhook_signature_errc refusal(std::string_view secret, std::string_view header,
                               std::string_view timestamp = "1614265330",
                               std::string_view body = spec_body, int64_t now = spec_timestamp) {
  auto verified = verify_webhook_signature(secret, spec_msg_id, timestamp, body, header, now);
  REQUIRE_FALSE(verified.ok());
  CHECK_FALSE(verified.err().message.empty());
  return verified.err().code;
}

}  // namespace

TEST_CASE("sign_webhook reproduces the Standard Webhooks test vector", "[unit]") {
  auto signature = sign_webhook(spec_secret, spec_msg_id, spec_timestamp, spec_body);
  REQUIRE(signature.ok());
  CHECK(*signature == spec_signature);
}

TEST_CASE("the Standard Webhooks test vector verifies", "[unit]") {
  CHECK(verify_webhook_signature(spec_secret, spec_msg_id, "1614265330", spec_body, spec_signature,
                                 spec_timestamp)
            .ok());
}

TEST_CASE("the signing key is the base64 after whsec_", "[unit]") {
  auto key = webhook_signing_key(spec_secret);
  REQUIRE(key.ok());
  CHECK(*key == *base64_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
  CHECK(key->size() == 24);
  auto generated = webhook_signing_key(fresh_secret());
  REQUIRE(generated.ok());
  CHECK(generated->size() == 32);
}

TEST_CASE("bad secrets are refused", "[unit]") {
  for (std::string secret : {
           std::string{""}, std::string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},  // no prefix
           std::string{"WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},             // wrong prefix case
           std::string{"whsec_"},                                             // empty key
           std::string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa"},               // not a multiple of 4
           std::string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa!w"},             // not base64
           std::string{"whsec_" + base64_encode(std::string(23, 'k'))},       // 23 bytes: too short
           std::string{"whsec_" + base64_encode(std::string(65, 'k'))},       // 65 bytes: too long
       }) {
    auto signature = sign_webhook(secret, spec_msg_id, spec_timestamp, spec_body);
    REQUIRE_FALSE(signature.ok());
    CHECK(signature.err().code == webhook_signature_errc::bad_secret);
    CHECK(refusal(secret, spec_signature) == webhook_signature_errc::bad_secret);
  }
  CHECK(sign_webhook("whsec_" + base64_encode(std::string(64, 'k')), spec_msg_id, spec_timestamp,
                     spec_body)
            .ok());
}

TEST_CASE("message ids that would make the signed content ambiguous are refused", "[unit]") {
  for (std::string_view id : {"", "msg.1", "."}) {
    auto signature = sign_webhook(spec_secret, id, spec_timestamp, spec_body);
    REQUIRE_FALSE(signature.ok());
    CHECK(signature.err().code == webhook_signature_errc::bad_message_id);
  }
  auto negative = sign_webhook(spec_secret, spec_msg_id, -1, spec_body);
  REQUIRE_FALSE(negative.ok());
  CHECK(negative.err().code == webhook_signature_errc::bad_timestamp);
}

TEST_CASE("the signature covers the id, the timestamp and the body", "[unit]") {
  auto secret = fresh_secret();
  auto header = signed_header(secret);
  CHECK(
      verify_webhook_signature(secret, spec_msg_id, "1614265330", spec_body, header, spec_timestamp)
          .ok());
  CHECK(
      verify_webhook_signature(secret, "msg_other", "1614265330", spec_body, header, spec_timestamp)
          .err()
          .code == webhook_signature_errc::bad_signature);
  CHECK(refusal(secret, header, "1614265331", spec_body) == webhook_signature_errc::bad_signature);
  CHECK(refusal(secret, header, "1614265330", R"({"test": 2432232315})") ==
        webhook_signature_errc::bad_signature);
  CHECK(refusal(secret, header, "1614265330", R"({"test":2432232314})") ==
        webhook_signature_errc::bad_signature);
  CHECK(refusal(fresh_secret(), header) == webhook_signature_errc::bad_signature);
}

TEST_CASE("a tampered or malformed signature header is refused", "[unit]") {
  std::string tampered{spec_signature};
  tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
  CHECK(refusal(spec_secret, tampered) == webhook_signature_errc::bad_signature);
  CHECK(refusal(spec_secret, "") == webhook_signature_errc::bad_signature);
  CHECK(refusal(spec_secret, "v1,") == webhook_signature_errc::bad_signature);
  // The right base64 under another version tag does not count.
  CHECK(refusal(spec_secret, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=") ==
        webhook_signature_errc::bad_signature);
  CHECK(refusal(spec_secret, "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=") ==
        webhook_signature_errc::bad_signature);
  CHECK(refusal(spec_secret, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=") ==
        webhook_signature_errc::bad_signature);
  // Truncated signature.
  CHECK(refusal(spec_secret, std::string{spec_signature.substr(0, spec_signature.size() - 4)}) ==
        webhook_signature_errc::bad_signature);
}

TEST_CASE("any matching v1 entry among several verifies", "[unit]") {
  // The same shape as the reference libraries' "valid multi sig" case.
  std::string header =
      "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "
      "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " +
      std::string{spec_signature} + " v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
  CHECK(verify_webhook_signature(spec_secret, spec_msg_id, "1614265330", spec_body, header,
                                 spec_timestamp)
            .ok());
  CHECK(refusal(spec_secret, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=") ==
        webhook_signature_errc::bad_signature);
}

TEST_CASE("a rotation header verifies with either secret", "[unit]") {
  auto current = fresh_secret();
  auto previous = fresh_secret();
  auto header =
      webhook_signature_header({current, previous}, spec_msg_id, spec_timestamp, spec_body);
  REQUIRE(header.ok());
  CHECK(*header == signed_header(current) + " " + signed_header(previous));
  CHECK(verify_webhook_signature(current, spec_msg_id, "1614265330", spec_body, *header,
                                 spec_timestamp)
            .ok());
  CHECK(verify_webhook_signature(previous, spec_msg_id, "1614265330", spec_body, *header,
                                 spec_timestamp)
            .ok());
  CHECK(refusal(fresh_secret(), *header) == webhook_signature_errc::bad_signature);

  auto single = webhook_signature_header({current}, spec_msg_id, spec_timestamp, spec_body);
  REQUIRE(single.ok());
  CHECK(*single == signed_header(current));
}

TEST_CASE("a rotation header needs at least one secret and only good ones", "[unit]") {
  auto none = webhook_signature_header({}, spec_msg_id, spec_timestamp, spec_body);
  REQUIRE_FALSE(none.ok());
  CHECK(none.err().code == webhook_signature_errc::bad_secret);
  auto one_bad = webhook_signature_header({fresh_secret(), "whsec_???"}, spec_msg_id,
                                          spec_timestamp, spec_body);
  REQUIRE_FALSE(one_bad.ok());
  CHECK(one_bad.err().code == webhook_signature_errc::bad_secret);
}

TEST_CASE("timestamps outside the tolerance are refused both ways", "[unit]") {
  auto secret = fresh_secret();
  const int64_t now = 1'700'000'000;
  auto at = [&](int64_t timestamp) {
    return verify_webhook_signature(secret, spec_msg_id, std::to_string(timestamp), spec_body,
                                    signed_header(secret, timestamp), now);
  };
  CHECK(at(now).ok());
  CHECK(at(now - 300).ok());
  CHECK(at(now + 300).ok());
  REQUIRE_FALSE(at(now - 301).ok());
  CHECK(at(now - 301).err().code == webhook_signature_errc::stale_timestamp);
  REQUIRE_FALSE(at(now + 301).ok());
  CHECK(at(now + 301).err().code == webhook_signature_errc::stale_timestamp);
  // A custom tolerance.
  CHECK(verify_webhook_signature(secret, spec_msg_id, std::to_string(now - 30), spec_body,
                                 signed_header(secret, now - 30), now, 60)
            .ok());
  CHECK(verify_webhook_signature(secret, spec_msg_id, std::to_string(now - 61), spec_body,
                                 signed_header(secret, now - 61), now, 60)
            .err()
            .code == webhook_signature_errc::stale_timestamp);
}

TEST_CASE("a webhook-timestamp that is not unix seconds is refused", "[unit]") {
  for (std::string_view timestamp : {"", "abc", "-1614265330", "1614265330.0", " 1614265330",
                                     "1614265330 ", "+1614265330", "1e9"}) {
    CHECK(refusal(spec_secret, spec_signature, timestamp) == webhook_signature_errc::bad_timestamp);
  }
}

TEST_CASE("webhook signature error codes have stable names", "[unit]") {
  CHECK(std::string(to_string(webhook_signature_errc::bad_secret)) == "bad_secret");
  CHECK(std::string(to_string(webhook_signature_errc::stale_timestamp)) == "stale_timestamp");
  CHECK(std::string(to_string(webhook_signature_errc::bad_signature)) == "bad_signature");
  CHECK(std::string(to_string(webhook_signature_errc::bad_timestamp)) == "bad_timestamp");
}
