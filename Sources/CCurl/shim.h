// Non-variadic entry points into libcurl for Swift, which cannot call C
// variadic functions: curl_easy_setopt and curl_easy_getinfo take their value
// as `...`. One wrapper per argument type; everything else in <curl/curl.h>
// (easy and multi handles, curl_url, curl_slist) is used directly.
//
// genidd drives each handle from one thread (the command's main thread);
// only curl_multi_wakeup may be called from elsewhere, and genidd does not.
#ifndef GENIDD_CCURL_SHIM_H
#define GENIDD_CCURL_SHIM_H

#include <curl/curl.h>

/// curl_easy_setopt for options that take a `long`: flags (CURLOPT_NOSIGNAL,
/// CURLOPT_POST, CURLOPT_HTTPGET) and limits (CURLOPT_TIMEOUT_MS,
/// CURLOPT_CONNECTTIMEOUT_MS).
static inline CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value)
{
    return curl_easy_setopt(handle, option, value);
}

/// curl_easy_setopt for options that take a pointer. Strings (CURLOPT_URL,
/// CURLOPT_UNIX_SOCKET_PATH, CURLOPT_COPYPOSTFIELDS) are copied by libcurl.
/// Other objects stay owned by the caller and must outlive the transfer: a
/// curl_slist for CURLOPT_HTTPHEADER (freed with curl_slist_free_all after
/// it), the CURLOPT_ERRORBUFFER array, and CURLOPT_WRITEDATA's context.
static inline CURLcode ccurl_easy_setopt_pointer(CURL *handle, CURLoption option, const void *value)
{
    return curl_easy_setopt(handle, option, value);
}

/// curl_easy_setopt for CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION. The
/// callback runs on the thread that calls curl_multi_perform, inside it; it
/// must not start another transfer on the same multi handle.
static inline CURLcode ccurl_easy_setopt_write_callback(CURL *handle, CURLoption option, curl_write_callback callback)
{
    return curl_easy_setopt(handle, option, callback);
}

/// curl_easy_setopt for options that take a curl_off_t (CURLOPT_POSTFIELDSIZE_LARGE,
/// CURLOPT_MAXFILESIZE_LARGE): passing an int where libcurl reads 64 bits
/// through `...` would be undefined behaviour.
static inline CURLcode ccurl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value)
{
    return curl_easy_setopt(handle, option, value);
}

/// curl_easy_getinfo for CURLINFO_LONG items, such as CURLINFO_RESPONSE_CODE.
/// Callable from a write callback of the same handle.
static inline CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value)
{
    return curl_easy_getinfo(handle, info, value);
}

/// curl_easy_getinfo for CURLINFO_STRING items, such as CURLINFO_CONTENT_TYPE.
/// The string belongs to the handle (valid until its next transfer or
/// cleanup) and may be NULL: copy it out.
static inline CURLcode ccurl_easy_getinfo_string(CURL *handle, CURLINFO info, const char **value)
{
    return curl_easy_getinfo(handle, info, value);
}

/// The CURLcode of a finished transfer: CURLMsg keeps it in an anonymous union.
static inline CURLcode ccurl_message_result(const CURLMsg *message)
{
    return message->data.result;
}

#endif
