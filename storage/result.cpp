#include "storage/result.hpp"

namespace webhookd::storage {

const char* to_string(errc code) {
  switch (code) {
    case errc::not_found:
      return "not_found";
    case errc::conflict:
      return "conflict";
    case errc::invalid:
      return "invalid";
    case errc::unavailable:
      return "unavailable";
    case errc::internal:
      return "internal";
  }
  return "internal";
}

}  // namespace webhookd::storage
