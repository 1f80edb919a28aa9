#include "app/ingest_backend.hpp"

#include <utility>

#include "app/startup_reads.hpp"

namespace webhookd::app {

actor_ingest_backend::actor_ingest_backend(caf::actor_system& system,
                                           std::shared_ptr<const source_directory> sources,
                                           ingest_actor ingest, ingest_deadlines deadlines)
    : system_(system),
      sources_(std::move(sources)),
      ingest_(std::move(ingest)),
      deadlines_(deadlines) {}

http::source_lookup_result actor_ingest_backend::find_source(const std::string& api_key) {
  http::source_lookup_result out;
  source_lookup found = sources_->find(api_key);
  if (found.found) {
    out.status = http::source_lookup_result::kind::found;
    out.src = std::move(found.src);
  } else {
    out.status = http::source_lookup_result::kind::unknown;
  }
  return out;
}

actor_ingest_backend::waiter actor_ingest_backend::take_waiter() {
  {
    std::lock_guard<std::mutex> guard{waiters_mutex_};
    if (!waiters_.empty()) {
      waiter w = std::move(waiters_.back());
      waiters_.pop_back();
      return w;
    }
  }
  return std::make_unique<caf::scoped_actor>(system_, true);
}

void actor_ingest_backend::keep_waiter(waiter w) {
  std::lock_guard<std::mutex> guard{waiters_mutex_};
  waiters_.push_back(std::move(w));
}

http::submit_result actor_ingest_backend::submit(std::vector<event> events) {
  http::submit_result out;
  out.status = http::submit_result::kind::unavailable;
  waiter w = take_waiter();
  caf::scoped_actor& self = *w;
  bool answered = true;
  // The deadline is this thread's own wait for the answer (a timed wait on the scoped actor's
  // mailbox), not a CAF request timeout, which would put a timer on CAF's clock thread for
  // every request. An answer after the deadline would land in this scoped actor's mailbox, so
  // it is not kept then.
  auto answer = self->request(ingest_, caf::infinite, ingest_atom::value, std::move(events));
  caf::blocking_actor::accept_one_cond one_answer;
  self->varargs_receive(
      one_answer, answer.id(),
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
        } else {
          out.message = system_.render(err);
        }
      },
      caf::after(deadlines_.submit) >>
          [&] {
            answered = false;
            out.message = "the events were not committed within " +
                          std::to_string(deadlines_.submit.count()) + " ms";
          });
  if (answered) keep_waiter(std::move(w));
  return out;
}

ingestion_start ingestion::start_blocking(caf::actor_system& system, storage::blocking_store& store,
                                          const clock_source& clock, const caf::actor& manager,
                                          std::shared_ptr<spdlog::logger> log,
                                          ingestion_settings settings) {
  ingestion_start out;
  router_deps router_setup;
  // With a manager the router's index comes from the manager's shared snapshot.
  auto webhooks = load_webhooks_unless_shared(store, static_cast<bool>(manager));
  if (!webhooks) {
    out.error = "cannot load the webhooks: " + webhooks.err().message;
    return out;
  }
  router_setup.webhooks = std::move(webhooks.value());
  auto sources = load_sources_blocking(store);
  if (!sources) {
    out.error = "cannot load the sources: " + sources.err().message;
    return out;
  }
  auto directory = std::make_shared<source_directory>();
  router_setup.clock = &clock;
  router_setup.log = log;
  router_setup.sources = std::move(sources.value());
  router_setup.directory = directory;
  router_actor router = spawn_router(system, std::move(router_setup));
  settings.api.metrics = settings.metrics;
  committer_actor committer = spawn_committer(
      system, &store, log,
      settings.metrics ? commit_metrics::create(*settings.metrics, commit_writer::ingest)
                       : nullptr);
  ingest_deps ingest_setup;
  ingest_setup.router = router;
  ingest_setup.committer = committer;
  ingest_setup.log = log;
  ingest_setup.clock = &clock;
  ingest_setup.settings = settings.engine;
  ingest_actor ingest = spawn_ingest(system, std::move(ingest_setup));
  // Owns the actors from here on: an early return stops them.
  std::unique_ptr<ingestion> running(new ingestion(system, router, std::move(directory), committer,
                                                   ingest, clock, settings, std::move(log)));

  if (manager) {
    caf::scoped_actor self{system, true};
    self->request(router, std::chrono::seconds(10), subscribe_atom::value, manager)
        .receive([](caf::ok_atom) {},
                 [&](caf::error& err) {
                   out.error =
                       "the router could not subscribe to the manager: " + system.render(err);
                 });
    if (!out.error.empty()) return out;
  }
  out.value = std::move(running);
  return out;
}

ingestion::ingestion(caf::actor_system& system, router_actor router,
                     std::shared_ptr<const source_directory> sources, committer_actor committer,
                     ingest_actor ingest, const clock_source& clock, ingestion_settings settings,
                     std::shared_ptr<spdlog::logger> log)
    : system_(system),
      router_(router),
      committer_(committer),
      ingest_(ingest),
      backend_(system, std::move(sources), ingest, settings.deadlines),
      api_(backend_, clock, settings.api, std::move(log)) {}

ingestion::~ingestion() {
  stop();
}

void ingestion::register_routes(httplib::Server& routes) {
  api_.register_routes(routes);
}

bool ingestion::set_supervisor(const caf::actor& supervisor) {
  bool confirmed = false;
  caf::scoped_actor self{system_, true};
  self->request(ingest_, std::chrono::seconds(10), caf::put_atom::value, supervisor)
      .receive([&](caf::ok_atom) { confirmed = true; }, [](caf::error&) {});
  return confirmed;
}

void ingestion::stop() {
  if (ingest_) caf::anon_send_exit(ingest_, caf::exit_reason::user_shutdown);
  if (committer_) caf::anon_send_exit(committer_, caf::exit_reason::user_shutdown);
  if (router_) caf::anon_send_exit(router_, caf::exit_reason::user_shutdown);
  ingest_ = nullptr;
  committer_ = nullptr;
  router_ = nullptr;
}

}  // namespace webhookd::app
