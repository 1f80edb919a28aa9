#include "core/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <memory>

namespace webhookd {

namespace {

constexpr char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char base64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr uint8_t invalid_sextet = 0xff;

constexpr std::array<uint8_t, 256> make_decode_table(const char* alphabet) {
  std::array<uint8_t, 256> table{};
  for (auto& entry : table) entry = invalid_sextet;
  for (uint8_t i = 0; i < 64; ++i) table[static_cast<unsigned char>(alphabet[i])] = i;
  return table;
}

constexpr auto base64_table = make_decode_table(base64_alphabet);
constexpr auto base64url_table = make_decode_table(base64url_alphabet);

std::string encode(std::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t group = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                     static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                     static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    out.push_back(alphabet[(group >> 18) & 63]);
    out.push_back(alphabet[(group >> 12) & 63]);
    out.push_back(alphabet[(group >> 6) & 63]);
    out.push_back(alphabet[group & 63]);
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t group = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    out.push_back(alphabet[(group >> 18) & 63]);
    out.push_back(alphabet[(group >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    uint32_t group = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                     static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out.push_back(alphabet[(group >> 18) & 63]);
    out.push_back(alphabet[(group >> 12) & 63]);
    out.push_back(alphabet[(group >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

/// Decodes `text` (padding already stripped and validated by the caller).
std::optional<std::string> decode_unpadded(std::string_view text,
                                           const std::array<uint8_t, 256>& table) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t bits = 0;
  int bit_count = 0;
  for (char c : text) {
    uint8_t sextet = table[static_cast<unsigned char>(c)];
    if (sextet == invalid_sextet) return std::nullopt;
    bits = (bits << 6) | sextet;
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<char>((bits >> bit_count) & 0xff));
    }
  }
  // Leftover bits (2 or 4) only exist in a final partial group; they must be zero so that
  // each byte string has a single valid encoding.
  if ((bits & ((1u << bit_count) - 1)) != 0) return std::nullopt;
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Drains OpenSSL's thread-local error queue into one line for an error message.
std::string openssl_errors(std::string_view what) {
  std::string message{what};
  bool first = true;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    message.append(first ? ": " : "; ");
    message.append(buffer);
    first = false;
  }
  return message;
}

crypto_error openssl_failure(std::string_view what) {
  return crypto_error{crypto_errc::openssl_failure, openssl_errors(what)};
}

struct evp_mac_deleter {
  void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
};
struct evp_mac_ctx_deleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
using evp_mac_ptr = std::unique_ptr<EVP_MAC, evp_mac_deleter>;
using evp_mac_ctx_ptr = std::unique_ptr<EVP_MAC_CTX, evp_mac_ctx_deleter>;

// Any non-null pointer for a zero-length buffer: some OpenSSL entry points reject nullptr.
const unsigned char* bytes_of(std::string_view s) {
  static constexpr unsigned char empty = 0;
  return s.empty() ? &empty : reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

const char* to_string(crypto_errc code) {
  switch (code) {
    case crypto_errc::invalid_argument:
      return "invalid_argument";
    case crypto_errc::openssl_failure:
      return "openssl_failure";
  }
  return "unknown";
}

std::string base64_encode(std::string_view bytes) {
  return encode(bytes, base64_alphabet, true);
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  while (padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  if (padding > 2) return std::nullopt;
  // A padded length is a multiple of 4, so after stripping 1 or 2 '=' the remainder is 3 or 2
  // characters: exactly the partial groups that padding stands for.
  return decode_unpadded(text.substr(0, text.size() - padding), base64_table);
}

std::string base64url_encode(std::string_view bytes) {
  return encode(bytes, base64url_alphabet, false);
}

std::optional<std::string> base64url_decode(std::string_view text) {
  return decode_unpadded(text, base64url_table);
}

std::string hex_encode(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto byte = static_cast<unsigned char>(c);
    out.push_back(digits[byte >> 4]);
    out.push_back(digits[byte & 15]);
  }
  return out;
}

std::optional<std::string> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int high = hex_value(text[i]);
    int low = hex_value(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high << 4 | low));
  }
  return out;
}

namespace {

// One HMAC-SHA256 context per thread, set up once: fetching the algorithm and the digest by
// name costs more than the MAC of a small message. EVP_MAC_init with a new key and no
// parameters starts a fresh MAC with the same digest.
EVP_MAC_CTX* thread_hmac_sha256() {
  thread_local evp_mac_ctx_ptr ctx = [] {
    evp_mac_ptr mac{EVP_MAC_fetch(nullptr, "HMAC", nullptr)};
    if (!mac) return evp_mac_ctx_ptr{};
    evp_mac_ctx_ptr made{EVP_MAC_CTX_new(mac.get())};  // holds its own reference to mac
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    if (made && EVP_MAC_CTX_set_params(made.get(), params) != 1) made.reset();
    return made;
  }();
  return ctx.get();
}

}  // namespace

crypto_result<std::string> hmac_sha256(std::string_view key, std::string_view data) {
  ERR_clear_error();
  EVP_MAC_CTX* ctx = thread_hmac_sha256();
  if (ctx == nullptr) return openssl_failure("setting up HMAC-SHA256 failed");
  // Never a null key (bytes_of), which EVP_MAC_init would take as "the previous key".
  if (EVP_MAC_init(ctx, bytes_of(key), key.size(), nullptr) != 1)
    return openssl_failure("EVP_MAC_init(HMAC-SHA256) failed");
  if (EVP_MAC_update(ctx, bytes_of(data), data.size()) != 1)
    return openssl_failure("EVP_MAC_update failed");
  unsigned char tag[EVP_MAX_MD_SIZE];
  std::size_t tag_size = 0;
  if (EVP_MAC_final(ctx, tag, &tag_size, sizeof tag) != 1)
    return openssl_failure("EVP_MAC_final failed");
  if (tag_size != sha256_size) {
    return crypto_error{crypto_errc::openssl_failure,
                        "HMAC-SHA256 returned a tag of " + std::to_string(tag_size) + " bytes"};
  }
  return std::string(reinterpret_cast<const char*>(tag), tag_size);
}

crypto_result<std::string> sha256(std::string_view data) {
  ERR_clear_error();
  unsigned char digest[EVP_MAX_MD_SIZE];
  std::size_t digest_size = 0;
  if (EVP_Q_digest(nullptr, "SHA256", nullptr, bytes_of(data), data.size(), digest, &digest_size) !=
      1)
    return openssl_failure("EVP_Q_digest(SHA256) failed");
  if (digest_size != sha256_size) {
    return crypto_error{crypto_errc::openssl_failure,
                        "SHA-256 returned a digest of " + std::to_string(digest_size) + " bytes"};
  }
  return std::string(reinterpret_cast<const char*>(digest), digest_size);
}

crypto_result<std::string> random_bytes(std::size_t count) {
  if (count > static_cast<std::size_t>(INT_MAX)) {
    return crypto_error{crypto_errc::invalid_argument,
                        "random_bytes: " + std::to_string(count) + " bytes is too many"};
  }
  std::string out(count, '\0');
  if (count == 0) return out;
  ERR_clear_error();
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1)
    return openssl_failure("RAND_bytes failed: no secure randomness available");
  return out;
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

crypto_result<std::string> new_signing_secret() {
  auto key = random_bytes(32);
  if (!key) return key.err();
  std::string secret{signing_secret_prefix};
  secret.append(base64_encode(*key));
  return secret;
}

std::optional<int64_t> parse_unix_seconds(std::string_view text) {
  // 18 digits stay below INT64_MAX, so the loop cannot overflow.
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

bool within_tolerance(int64_t a, int64_t b, int64_t tolerance) {
  // Unsigned subtraction of the larger minus the smaller is exact for any two int64 values.
  uint64_t distance = a >= b ? static_cast<uint64_t>(a) - static_cast<uint64_t>(b)
                             : static_cast<uint64_t>(b) - static_cast<uint64_t>(a);
  return distance <= static_cast<uint64_t>(std::max<int64_t>(tolerance, 0));
}

}  // namespace webhookd
