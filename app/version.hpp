#pragma once

namespace webhookd {

/// The release version, e.g. "0.1.0".
const char* version();

}  // namespace webhookd
