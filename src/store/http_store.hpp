// The TLB server backend of Store: history, run ledgers and results over HTTP, in the JSON API `tlb server`
// serves (README, "The TLB server").
#pragma once

#include <memory>
#include <string>

#include "store/store.hpp"

namespace tlb::store {

// `url` is "http://host[:port][/prefix]" or "https://...". Throws UnsupportedStore when it cannot be read as
// one, or when `server.job` is empty. Nothing is sent until the store is used.
std::unique_ptr<Store> open_http_store(const std::string& url, const HistoryPolicy& policy,
                                       const ServerOptions& server);

}  // namespace tlb::store
