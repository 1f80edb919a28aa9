#include "core/crypto.hpp"

#include <catch2/catch.hpp>
#include <set>

using namespace webhookd;

namespace {

std::string hex_hmac(std::string_view key, std::string_view data) {
  auto mac = hmac_sha256(key, data);
  REQUIRE(mac.ok());
  return hex_encode(*mac);
}

std::string unhex(std::string_view text) {
  auto bytes = hex_decode(text);
  REQUIRE(bytes.has_value());
  return *bytes;
}

}  // namespace

// RFC 4231 section 4: HMAC-SHA256 test cases 1-7.
TEST_CASE("hmac_sha256 matches the RFC 4231 test vectors", "[unit]") {
  SECTION("test case 1") {
    CHECK(hex_hmac(std::string(20, '\x0b'), "Hi There") ==
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  }
  SECTION("test case 2: key shorter than the block") {
    CHECK(hex_hmac("Jefe", "what do ya want for nothing?") ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  }
  SECTION("test case 3") {
    CHECK(hex_hmac(std::string(20, '\xaa'), std::string(50, '\xdd')) ==
          "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  }
  SECTION("test case 4") {
    CHECK(hex_hmac(unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                   std::string(50, '\xcd')) ==
          "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  }
  SECTION("test case 5: truncated to 128 bits") {
    CHECK(hex_hmac(std::string(20, '\x0c'), "Test With Truncation").substr(0, 32) ==
          "a3b6167473100ee06e0c796c2955552b");
  }
  SECTION("test case 6: key larger than the block") {
    CHECK(hex_hmac(std::string(131, '\xaa'),
                   "Test Using Larger Than Block-Size Key - Hash Key First") ==
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  }
  SECTION("test case 7: key and data larger than the block") {
    CHECK(hex_hmac(std::string(131, '\xaa'),
                   "This is a test using a larger than block-size key and a larger than "
                   "block-size data. The key needs to be hashed before being used by the HMAC "
                   "algorithm.") ==
          "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
  }
}

TEST_CASE("hmac_sha256 accepts an empty key and empty data", "[unit]") {
  // Known value: HMAC-SHA256("", "").
  CHECK(hex_hmac("", "") == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST_CASE("hmac_sha256 keeps nothing from one call to the next on a thread", "[unit]") {
  // The thread's context is reused: a call with an empty key (here a null string_view, which
  // EVP_MAC_init would take as "keep the previous key") must not MAC with the previous key.
  CHECK(hex_hmac("key", "data") ==
        "5031fe3d989c6d1537a013fa6e739da23463fdaec3b70137d828e36ace221bd0");
  CHECK(hex_encode(*hmac_sha256(std::string_view{}, "")) ==
        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  CHECK(hex_hmac("key", "data") ==
        "5031fe3d989c6d1537a013fa6e739da23463fdaec3b70137d828e36ace221bd0");
  CHECK(hex_hmac("other key", "data") != hex_hmac("key", "data"));
}

TEST_CASE("sha256 matches the FIPS 180-2 examples", "[unit]") {
  auto empty = sha256("");
  REQUIRE(empty.ok());
  CHECK(hex_encode(*empty) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  auto abc = sha256("abc");
  REQUIRE(abc.ok());
  CHECK(hex_encode(*abc) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("base64 encodes the RFC 4648 test vectors with padding", "[unit]") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode("\xfb\xff\xbf") == "+/+/");
}

TEST_CASE("base64 round-trips every byte value and length", "[unit]") {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (std::size_t length = 0; length <= bytes.size(); ++length) {
    auto input = bytes.substr(bytes.size() - length);
    auto decoded = base64_decode(base64_encode(input));
    REQUIRE(decoded.has_value());
    CHECK(*decoded == input);
    auto url_decoded = base64url_decode(base64url_encode(input));
    REQUIRE(url_decoded.has_value());
    CHECK(*url_decoded == input);
  }
}

TEST_CASE("base64_decode rejects invalid input", "[unit]") {
  CHECK(base64_decode("Zg=") == std::nullopt);   // length not a multiple of 4
  CHECK(base64_decode("Zg") == std::nullopt);    // padding missing
  CHECK(base64_decode("Z===") == std::nullopt);  // three padding characters
  CHECK(base64_decode("====") == std::nullopt);
  CHECK(base64_decode("Zm=v") == std::nullopt);       // padding inside
  CHECK(base64_decode("Zm9v Yg==") == std::nullopt);  // whitespace
  CHECK(base64_decode("Zm9vYg==\n") == std::nullopt);
  CHECK(base64_decode("Zm9v-_==") == std::nullopt);  // url alphabet
  CHECK(base64_decode("Zh==") == std::nullopt);      // non-zero unused bits ("Zg==" is canonical)
  CHECK(base64_decode("Zm9=") == std::nullopt);      // non-zero unused bits ("Zm8=" is canonical)
  CHECK(base64_decode(std::string_view("Zg=\0", 4)) == std::nullopt);
  CHECK(base64_decode("Zg==") == std::optional<std::string>("f"));
}

TEST_CASE("base64url uses the url alphabet without padding", "[unit]") {
  CHECK(base64url_encode("\xfb\xff\xbf") == "-_-_");
  CHECK(base64url_encode("f") == "Zg");
  CHECK(base64url_encode("fo") == "Zm8");
  CHECK(base64url_decode("-_-_") == std::optional<std::string>("\xfb\xff\xbf"));
  CHECK(base64url_decode("Zm8") == std::optional<std::string>("fo"));
}

TEST_CASE("base64url_decode rejects invalid input", "[unit]") {
  CHECK(base64url_decode("Zg==") == std::nullopt);  // padding
  CHECK(base64url_decode("Zm8=") == std::nullopt);
  CHECK(base64url_decode("+/+/") == std::nullopt);   // standard alphabet
  CHECK(base64url_decode("Zm9vY") == std::nullopt);  // length 1 mod 4
  CHECK(base64url_decode("Zh") == std::nullopt);     // non-zero unused bits
  CHECK(base64url_decode("Zm.v") == std::nullopt);
  CHECK(base64url_decode("") == std::optional<std::string>(""));
}

TEST_CASE("hex encodes lower case and decodes either case", "[unit]") {
  CHECK(hex_encode(std::string_view("\x00\x01\xab\xff", 4)) == "0001abff");
  CHECK(hex_decode("0001abff") == std::optional<std::string>(std::string("\x00\x01\xab\xff", 4)));
  CHECK(hex_decode("0001ABFF") == std::optional<std::string>(std::string("\x00\x01\xab\xff", 4)));
  CHECK(hex_decode("") == std::optional<std::string>(""));
  CHECK(hex_decode("abc") == std::nullopt);  // odd length
  CHECK(hex_decode("zz") == std::nullopt);
  CHECK(hex_decode("0x12") == std::nullopt);
  CHECK(hex_decode("12 3") == std::nullopt);
}

TEST_CASE("constant_time_equals compares content and length", "[unit]") {
  CHECK(constant_time_equals("", ""));
  CHECK(constant_time_equals("abc", "abc"));
  CHECK_FALSE(constant_time_equals("abc", "abd"));
  CHECK_FALSE(constant_time_equals("abc", "abcd"));
  CHECK_FALSE(constant_time_equals("abc", ""));
  CHECK(constant_time_equals(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  CHECK_FALSE(constant_time_equals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST_CASE("random_bytes returns the requested number of distinct bytes", "[unit]") {
  auto none = random_bytes(0);
  REQUIRE(none.ok());
  CHECK(none->empty());
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto bytes = random_bytes(32);
    REQUIRE(bytes.ok());
    CHECK(bytes->size() == 32);
    seen.insert(*bytes);
  }
  CHECK(seen.size() == 100);
}

TEST_CASE("random_bytes refuses sizes OpenSSL can't take", "[unit]") {
  auto huge = random_bytes(static_cast<std::size_t>(1) << 40);
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.err().code == crypto_errc::invalid_argument);
}

TEST_CASE("new_signing_secret is whsec_ plus base64 of 32 random bytes", "[unit]") {
  auto first = new_signing_secret();
  auto second = new_signing_secret();
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->rfind("whsec_", 0) == 0);
  auto key = base64_decode(std::string_view(*first).substr(6));
  REQUIRE(key.has_value());
  CHECK(key->size() == 32);
  CHECK(*first != *second);
}

TEST_CASE("parse_unix_seconds accepts only plain digits", "[unit]") {
  CHECK(parse_unix_seconds("1614265330") == std::optional<int64_t>(1614265330));
  CHECK(parse_unix_seconds("0") == std::optional<int64_t>(0));
  CHECK(parse_unix_seconds("999999999999999999") == std::optional<int64_t>(999999999999999999));
  CHECK(parse_unix_seconds("") == std::nullopt);
  CHECK(parse_unix_seconds("-5") == std::nullopt);
  CHECK(parse_unix_seconds("+5") == std::nullopt);
  CHECK(parse_unix_seconds(" 5") == std::nullopt);
  CHECK(parse_unix_seconds("5.0") == std::nullopt);
  CHECK(parse_unix_seconds("12ab") == std::nullopt);
  CHECK(parse_unix_seconds("9999999999999999999") == std::nullopt);  // 19 digits
}

TEST_CASE("within_tolerance is symmetric and overflow-free", "[unit]") {
  CHECK(within_tolerance(1000, 1300, 300));
  CHECK(within_tolerance(1300, 1000, 300));
  CHECK_FALSE(within_tolerance(1000, 1301, 300));
  CHECK_FALSE(within_tolerance(1301, 1000, 300));
  CHECK(within_tolerance(5, 5, -1));
  CHECK_FALSE(within_tolerance(5, 6, -1));
  CHECK_FALSE(within_tolerance(INT64_MAX, INT64_MIN, 300));
  CHECK_FALSE(within_tolerance(INT64_MIN, INT64_MAX, INT64_MAX));
}

TEST_CASE("crypto error codes have stable names", "[unit]") {
  CHECK(std::string(to_string(crypto_errc::invalid_argument)) == "invalid_argument");
  CHECK(std::string(to_string(crypto_errc::openssl_failure)) == "openssl_failure");
}
