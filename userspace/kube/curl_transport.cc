#include "kube/curl_transport.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace egressd::kube {
namespace {

constexpr long kConnectTimeoutMs = 10000;

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

struct Transfer {
  CURL* curl = nullptr;
  const LineHandler* on_line = nullptr;
  const CancelCheck* cancelled = nullptr;
  Response response;
  std::string partial_line;  // a watch line not yet complete
  bool streaming = false;    // decided at the first bytes, from the status
  bool decided = false;
};

size_t onData(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  if (!t->decided) {
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    t->streaming = t->on_line != nullptr && status == 200;
    t->decided = true;
  }
  if (!t->streaming) {
    t->response.body.append(data, bytes);
    return bytes;
  }
  // Watch events are one JSON object per line; a chunk may end mid-line.
  std::string_view chunk(data, bytes);
  while (!chunk.empty()) {
    const size_t newline = chunk.find('\n');
    if (newline == std::string_view::npos) {
      t->partial_line.append(chunk);
      break;
    }
    t->partial_line.append(chunk.substr(0, newline));
    if (!t->partial_line.empty()) (*t->on_line)(t->partial_line);
    t->partial_line.clear();
    chunk.remove_prefix(newline + 1);
  }
  return bytes;
}

int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return (*t->cancelled && (*t->cancelled)()) ? 1 : 0;
}

void setBlob(CURL* curl, CURLoption option, const std::string& pem) {
  curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
  curl_easy_setopt(curl, option, &blob);
}

}  // namespace

CurlTransport::CurlTransport(ClusterConfig config) : config_(std::move(config)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string CurlTransport::url(const Request& request) const {
  std::string url = config_.server + request.path;
  char separator = '?';
  for (const auto& [key, value] : request.query) {
    char* k = curl_easy_escape(nullptr, key.c_str(), static_cast<int>(key.size()));
    char* v = curl_easy_escape(nullptr, value.c_str(), static_cast<int>(value.size()));
    url += separator;
    url += k;
    url += '=';
    url += v;
    curl_free(k);
    curl_free(v);
    separator = '&';
  }
  return url;
}

Result<Response> CurlTransport::get(const Request& request, const CancelCheck& cancelled) {
  return perform(request, nullptr, cancelled);
}

Result<Response> CurlTransport::stream(const Request& request, const LineHandler& on_line,
                                       const CancelCheck& cancelled) {
  return perform(request, &on_line, cancelled);
}

Result<Response> CurlTransport::perform(const Request& request, const LineHandler* on_line,
                                        const CancelCheck& cancelled) {
  std::unique_ptr<CURL, CurlDeleter> handle(curl_easy_init());
  if (!handle) return fail("curl_easy_init failed");
  CURL* curl = handle.get();
  Transfer transfer;
  transfer.curl = curl;
  transfer.on_line = on_line;
  transfer.cancelled = &cancelled;

  const std::string target = url(request);
  curl_easy_setopt(curl, CURLOPT_URL, target.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  // A watch that is silent for minutes is normal; a peer that vanished is not.
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPINTVL, 10L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, onData);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, onProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  char error_text[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);

  if (config_.insecure_skip_tls_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!config_.ca_pem.empty()) {
    setBlob(curl, CURLOPT_CAINFO_BLOB, config_.ca_pem);
  } else if (!config_.ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, config_.ca_file.c_str());
  }
  if (!config_.client_cert_pem.empty()) setBlob(curl, CURLOPT_SSLCERT_BLOB, config_.client_cert_pem);
  if (!config_.client_cert_file.empty()) curl_easy_setopt(curl, CURLOPT_SSLCERT, config_.client_cert_file.c_str());
  if (!config_.client_key_pem.empty()) setBlob(curl, CURLOPT_SSLKEY_BLOB, config_.client_key_pem);
  if (!config_.client_key_file.empty()) curl_easy_setopt(curl, CURLOPT_SSLKEY, config_.client_key_file.c_str());
  curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
  curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");

  curl_slist* raw_headers = curl_slist_append(nullptr, "Accept: application/json");
  raw_headers = curl_slist_append(raw_headers, "User-Agent: egressd");
  std::string authorization;
  if (config_.token) {
    auto token = config_.token->current();
    if (!token) {
      curl_slist_free_all(raw_headers);
      return fail(token.error());
    }
    authorization = "Authorization: Bearer " + *token;
    raw_headers = curl_slist_append(raw_headers, authorization.c_str());
  }
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw_headers);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());

  const CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &transfer.response.status);
  if (transfer.streaming && !transfer.partial_line.empty()) (*on_line)(transfer.partial_line);
  if (transfer.response.status == 401 && config_.token) config_.token->invalidate();
  if (code != CURLE_OK) {
    // A watch that ran and then broke still delivered its lines; the caller
    // resumes from the last resourceVersion either way.
    if (code == CURLE_ABORTED_BY_CALLBACK) return fail("cancelled");
    return fail(std::string(curl_easy_strerror(code)) + (error_text[0] != 0 ? std::string(": ") + error_text : ""));
  }
  return transfer.response;
}

}  // namespace egressd::kube
