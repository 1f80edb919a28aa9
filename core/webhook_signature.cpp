#include "core/webhook_signature.hpp"

#include "core/crypto.hpp"

namespace webhookd {

namespace {

constexpr std::string_view version_prefix = "v1,";

webhook_signature_error fail(webhook_signature_errc code, std::string message) {
  return webhook_signature_error{code, std::move(message)};
}

/// The signature (without "v1,") of an already validated key, id and timestamp.
webhook_signature_result<std::string> signature_for_key(std::string_view key,
                                                        std::string_view msg_id,
                                                        int64_t timestamp_seconds,
                                                        std::string_view body) {
  std::string content;
  content.reserve(msg_id.size() + body.size() + 24);
  content.append(msg_id);
  content.push_back('.');
  content.append(std::to_string(timestamp_seconds));
  content.push_back('.');
  content.append(body);
  auto mac = hmac_sha256(key, content);
  if (!mac) return fail(webhook_signature_errc::internal, mac.err().message);
  return base64_encode(*mac);
}

outcome<void, webhook_signature_error> check_message(std::string_view msg_id,
                                                     int64_t timestamp_seconds) {
  if (msg_id.empty() || msg_id.find('.') != std::string_view::npos)
    return fail(webhook_signature_errc::bad_message_id,
                "webhook-id must be non-empty and contain no '.'");
  if (timestamp_seconds < 0)
    return fail(webhook_signature_errc::bad_timestamp, "webhook-timestamp must not be negative");
  return {};
}

}  // namespace

const char* to_string(webhook_signature_errc code) {
  switch (code) {
    case webhook_signature_errc::bad_secret:
      return "bad_secret";
    case webhook_signature_errc::bad_message_id:
      return "bad_message_id";
    case webhook_signature_errc::bad_timestamp:
      return "bad_timestamp";
    case webhook_signature_errc::stale_timestamp:
      return "stale_timestamp";
    case webhook_signature_errc::bad_signature:
      return "bad_signature";
    case webhook_signature_errc::internal:
      return "internal";
  }
  return "unknown";
}

webhook_signature_result<std::string> webhook_signing_key(std::string_view secret) {
  if (secret.substr(0, signing_secret_prefix.size()) != signing_secret_prefix)
    return fail(webhook_signature_errc::bad_secret, "signing secret must start with \"whsec_\"");
  auto key = base64_decode(secret.substr(signing_secret_prefix.size()));
  if (!key)
    return fail(webhook_signature_errc::bad_secret,
                "signing secret is not valid base64 after whsec_");
  if (key->size() < webhook_secret_min_bytes || key->size() > webhook_secret_max_bytes)
    return fail(webhook_signature_errc::bad_secret,
                "signing secret must decode to 24..64 bytes, not " + std::to_string(key->size()));
  return std::move(*key);
}

webhook_signature_result<std::string> sign_webhook(std::string_view secret, std::string_view msg_id,
                                                   int64_t timestamp_seconds,
                                                   std::string_view body) {
  if (auto checked = check_message(msg_id, timestamp_seconds); !checked) return checked.err();
  auto key = webhook_signing_key(secret);
  if (!key) return key.err();
  auto signature = signature_for_key(*key, msg_id, timestamp_seconds, body);
  if (!signature) return signature.err();
  return std::string{version_prefix} + *signature;
}

webhook_signature_result<std::string> webhook_signature_header(
    const std::vector<std::string>& secrets, std::string_view msg_id, int64_t timestamp_seconds,
    std::string_view body) {
  if (secrets.empty())
    return fail(webhook_signature_errc::bad_secret, "no signing secret to sign with");
  std::string header;
  for (const auto& secret : secrets) {
    auto signature = sign_webhook(secret, msg_id, timestamp_seconds, body);
    if (!signature) return signature.err();
    if (!header.empty()) header.push_back(' ');
    header.append(*signature);
  }
  return header;
}

outcome<void, webhook_signature_error> verify_webhook_signature(
    std::string_view secret, std::string_view msg_id, std::string_view timestamp_header,
    std::string_view body, std::string_view signature_header, int64_t now_seconds,
    int64_t tolerance_seconds) {
  auto timestamp = parse_unix_seconds(timestamp_header);
  if (!timestamp)
    return fail(webhook_signature_errc::bad_timestamp, "webhook-timestamp is not unix seconds");
  if (!within_tolerance(*timestamp, now_seconds, tolerance_seconds))
    return fail(webhook_signature_errc::stale_timestamp,
                "webhook-timestamp is outside the tolerance");
  if (auto checked = check_message(msg_id, *timestamp); !checked) return checked.err();
  auto key = webhook_signing_key(secret);
  if (!key) return key.err();
  auto expected = signature_for_key(*key, msg_id, *timestamp, body);
  if (!expected) return expected.err();

  // Look at every entry (no early exit) so timing does not reveal which one matched.
  bool matched = false;
  std::string_view rest = signature_header;
  while (!rest.empty()) {
    auto space = rest.find(' ');
    auto entry = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
    if (entry.substr(0, version_prefix.size()) != version_prefix) continue;
    matched |= constant_time_equals(entry.substr(version_prefix.size()), *expected);
  }
  if (!matched) return fail(webhook_signature_errc::bad_signature, "no v1 signature matches");
  return {};
}

}  // namespace webhookd
