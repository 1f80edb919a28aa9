#include "core/source_signature.hpp"

#include "core/crypto.hpp"

namespace webhookd {

namespace {

constexpr std::string_view version_prefix = "v1=";

source_signature_error fail(source_signature_errc code, std::string message) {
  return source_signature_error{code, std::move(message)};
}

/// HMAC-SHA256(secret, timestamp + "." + body), raw bytes.
outcome<std::string, source_signature_error> source_mac(std::string_view secret,
                                                        std::string_view timestamp,
                                                        std::string_view body) {
  std::string content;
  content.reserve(timestamp.size() + 1 + body.size());
  content.append(timestamp);
  content.push_back('.');
  content.append(body);
  auto mac = hmac_sha256(secret, content);
  if (!mac) return fail(source_signature_errc::internal, mac.err().message);
  return std::move(*mac);
}

}  // namespace

const char* to_string(source_signature_errc code) {
  switch (code) {
    case source_signature_errc::bad_secret:
      return "bad_secret";
    case source_signature_errc::bad_timestamp:
      return "bad_timestamp";
    case source_signature_errc::stale_timestamp:
      return "stale_timestamp";
    case source_signature_errc::bad_signature:
      return "bad_signature";
    case source_signature_errc::internal:
      return "internal";
  }
  return "unknown";
}

outcome<std::string, source_signature_error> sign_source_request(std::string_view secret,
                                                                 int64_t timestamp_seconds,
                                                                 std::string_view body) {
  if (secret.empty()) return fail(source_signature_errc::bad_secret, "source secret is empty");
  auto mac = source_mac(secret, std::to_string(timestamp_seconds), body);
  if (!mac) return mac.err();
  return std::string{version_prefix} + hex_encode(*mac);
}

outcome<void, source_signature_error> verify_source_request(
    std::string_view secret, std::string_view timestamp_header, std::string_view signature_header,
    std::string_view body, int64_t now_seconds, int64_t tolerance_seconds) {
  if (secret.empty()) return fail(source_signature_errc::bad_secret, "source secret is empty");
  auto timestamp = parse_unix_seconds(timestamp_header);
  if (!timestamp)
    return fail(source_signature_errc::bad_timestamp, "X-Source-Timestamp is not unix seconds");
  if (!within_tolerance(*timestamp, now_seconds, tolerance_seconds))
    return fail(source_signature_errc::stale_timestamp, "X-Source-Timestamp is more than " +
                                                            std::to_string(tolerance_seconds) +
                                                            " s away from now");
  // The MAC covers the header exactly as sent (parse_unix_seconds admits only digits, so this
  // is the decimal timestamp the source signed).
  auto expected = source_mac(secret, timestamp_header, body);
  if (!expected) return expected.err();

  // Look at every entry (no early exit) so timing does not reveal which one matched.
  bool matched = false;
  std::string_view rest = signature_header;
  while (!rest.empty()) {
    auto separator = rest.find_first_of(" ,");
    auto entry = rest.substr(0, separator);
    rest = separator == std::string_view::npos ? std::string_view{} : rest.substr(separator + 1);
    if (entry.substr(0, version_prefix.size()) != version_prefix) continue;
    auto provided = hex_decode(entry.substr(version_prefix.size()));
    if (!provided) continue;
    matched |= constant_time_equals(*provided, *expected);
  }
  if (!matched) return fail(source_signature_errc::bad_signature, "no v1= signature matches");
  return {};
}

}  // namespace webhookd
