#pragma once

// The store's rows are the domain model of core/model.hpp; these names keep `storage::webhook`
// and friends readable at call sites that speak of rows.
#include "core/model.hpp"

namespace webhookd::storage {

using webhookd::append_result;
using webhookd::attempt;
using webhookd::attempt_feed;
using webhookd::attempt_feed_request;
using webhookd::attempt_outcome;
using webhookd::attempt_record;
using webhookd::delivery;
using webhookd::delivery_filter;
using webhookd::delivery_status;
using webhookd::dlq_entry;
using webhookd::dlq_filter;
using webhookd::event;
using webhookd::event_type;
using webhookd::new_event;
using webhookd::node;
using webhookd::page;
using webhookd::page_request;
using webhookd::partition_count;
using webhookd::partition_lease;
using webhookd::partition_of;
using webhookd::source;
using webhookd::webhook;

}  // namespace webhookd::storage
