#pragma once

#include <string>

#include "core/model.hpp"

namespace webhookd {

/// The body POSTed to a callback URL for `ev` (design section 4):
/// {"id": event_id, "type": event_type, "timestamp": RFC 3339, "client_id": ..., "data": payload}.
/// Deterministic: the same event always gives the same bytes, so a retry re-sends exactly what
/// was signed before. Precondition: ev.payload is valid JSON.
std::string delivery_body(const event& ev);

}  // namespace webhookd
