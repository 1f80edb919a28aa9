#include "app/version.hpp"

namespace webhookd {

const char* version() { return WEBHOOKD_VERSION; }

}  // namespace webhookd
