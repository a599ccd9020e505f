// Nettle's HMAC-SHA256 for the uuid_hash, with the contexts in memory the
// caller owns. Swift cannot call nettle's public names (hmac_sha256_update and
// the rest are macros for nettle_hmac_sha256_update and so on), nor take
// sizeof of its structs portably; these wrappers do both in one place.
//
// Why nettle: libmicrohttpd already loads it (libmicrohttpd -> GnuTLS ->
// libnettle), so the daemon maps no extra library for it. Only UUIDHasher,
// on the source thread, calls these functions.
#ifndef GENIDD_CNETTLE_SHIM_H
#define GENIDD_CNETTLE_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <nettle/hmac.h>
#include <nettle/sha2.h>

/// Bytes of one HMAC-SHA256 context (struct hmac_sha256_ctx).
static inline size_t cnettle_hmac_sha256_context_size(void)
{
    return sizeof(struct hmac_sha256_ctx);
}

/// Alignment a context needs in the caller's memory.
static inline size_t cnettle_hmac_sha256_context_alignment(void)
{
    return _Alignof(struct hmac_sha256_ctx);
}

/// Bytes of an HMAC-SHA256 code.
static inline size_t cnettle_sha256_digest_size(void)
{
    return SHA256_DIGEST_SIZE;
}

/// Derives the keyed context (inner and outer hash states) from `key`, into
/// `context`, caller-owned memory of cnettle_hmac_sha256_context_size() bytes.
/// The key itself is not kept; the context is the caller's to wipe.
static inline void cnettle_hmac_sha256_set_key(void *context, const uint8_t *key, size_t length)
{
    nettle_hmac_sha256_set_key((struct hmac_sha256_ctx *)context, length, key);
}

/// HMAC-SHA256 of `length` bytes at `message` under the key of `keyed`, into
/// `digest` (cnettle_sha256_digest_size() bytes). `scratch` is caller-owned
/// memory for a working copy of the context: it absorbs the message, so it
/// is wiped with explicit_bzero before this returns. `keyed` is not changed.
static inline void cnettle_hmac_sha256_digest(
    const void *keyed, void *scratch, const void *message, size_t length, uint8_t *digest)
{
    struct hmac_sha256_ctx *work = (struct hmac_sha256_ctx *)scratch;
    memcpy(work, keyed, sizeof *work);
    nettle_hmac_sha256_update(work, length, (const uint8_t *)message);
    nettle_hmac_sha256_digest(work, SHA256_DIGEST_SIZE, digest);
    explicit_bzero(work, sizeof *work);
}

#endif
