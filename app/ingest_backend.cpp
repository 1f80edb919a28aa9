#include "app/ingest_backend.hpp"

#include <utility>

namespace webhookd::app {

actor_ingest_backend::actor_ingest_backend(caf::actor_system& system, router_actor router,
                                           ingest_actor ingest, ingest_deadlines deadlines)
    : system_(system),
      router_(std::move(router)),
      ingest_(std::move(ingest)),
      deadlines_(deadlines) {}

http::source_lookup_result actor_ingest_backend::find_source(const std::string& api_key) {
  http::source_lookup_result out;
  out.status = http::source_lookup_result::kind::unavailable;
  caf::scoped_actor self{system_, true};
  self->request(router_, deadlines_.find_source, source_atom::value, api_key)
      .receive(
          [&](source_lookup& found) {
            if (found.found) {
              out.status = http::source_lookup_result::kind::found;
              out.src = std::move(found.src);
            } else {
              out.status = http::source_lookup_result::kind::unknown;
            }
          },
          [&](caf::error& err) { out.message = system_.render(err); });
  return out;
}

http::submit_result actor_ingest_backend::submit(std::vector<event> events) {
  http::submit_result out;
  out.status = http::submit_result::kind::unavailable;
  caf::scoped_actor self{system_, true};
  self->request(ingest_, deadlines_.submit, ingest_atom::value, std::move(events))
      .receive(
          [&](const ingest_ack& ack) {
            out.status = http::submit_result::kind::accepted;
            out.accepted = ack.accepted;
            out.duplicates = ack.duplicates;
          },
          [&](caf::error& err) {
            if (auto failure = ingest_failure_of(err)) {
              out.status = failure->code == ingest_errc::overloaded
                               ? http::submit_result::kind::overloaded
                               : http::submit_result::kind::unavailable;
              out.message = failure->message;
            } else if (err == caf::sec::request_timeout) {
              out.message = "the events were not committed within " +
                            std::to_string(deadlines_.submit.count()) + " ms";
            } else {
              out.message = system_.render(err);
            }
          });
  return out;
}

storage::result<std::vector<source>> load_sources_blocking(storage::blocking_store& store) {
  std::vector<source> out;
  page_request req;
  req.limit = 500;
  for (;;) {
    auto got = store.list_sources(req);
    if (!got) return got.err();
    for (auto& s : got->items) out.push_back(std::move(s));
    if (got->next_cursor.empty()) return out;
    req.after = got->next_cursor;
  }
}

}  // namespace webhookd::app
