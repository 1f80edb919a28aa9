#include "core/delivery_body.hpp"

#include <nlohmann/json.hpp>

#include "core/time_format.hpp"

namespace webhookd {

std::string delivery_body(const event& ev) {
  // Built by hand so "data" keeps the payload's bytes as stored and the key order is fixed.
  std::string out;
  out.reserve(ev.payload.size() + ev.event_id.size() + ev.event_type.size() + 128);
  out += "{\"id\":";
  out += nlohmann::json(ev.event_id).dump();
  out += ",\"type\":";
  out += nlohmann::json(ev.event_type).dump();
  out += ",\"timestamp\":\"";
  out += format_rfc3339_ms(ev.timestamp);
  out += "\",\"client_id\":";
  out += nlohmann::json(ev.client_id).dump();
  out += ",\"data\":";
  out += ev.payload;
  out += '}';
  return out;
}

}  // namespace webhookd
