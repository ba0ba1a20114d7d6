/*
 * api.h — nmbox's control API: HTTP + JSON beside the data plane.
 *
 * api_start() opens the listeners named by the config's "api" object and starts one control
 * thread with its own libevent event_base running evhttp. That thread is the only one that
 * calls rt_ctl.h; it never touches a ring. api_stop() ends the thread and removes the socket.
 *
 * The "api" object (every key optional):
 *   "unix":       path of the Unix socket, default "/run/nmbox/nmrouter.sock"; "" disables it.
 *                 The parent directory is created (0755) if missing. A stale socket is replaced.
 *   "mode":       the socket's permission bits as an octal string, default "0660".
 *   "group":      group name owning the socket; default the process's group (root for a
 *                 router started as root). The owner is always the process's user.
 *   "tcp":        "127.0.0.1:PORT" (or "[::1]:PORT"); off unless given. Loopback only
 *                 (the token travels in clear text). Requires a token.
 *   "token":      bearer token for TCP clients ("Authorization: Bearer TOKEN"), or
 *   "token_file": a file whose first line is the token ("token" wins if both are set).
 *   "timeout":    seconds of per-connection read/write inactivity before it is closed (10).
 *   "request_timeout": seconds a connection has to deliver a whole request, counted from
 *                 its opening or the end of the previous answer (30); then it is closed.
 *   "max_body":   largest accepted request body in bytes (64 MiB; 413 above).
 *
 * Resources (iproute2 JSON vocabulary) are described in api/README.md.
 * Link with lib/libnmapi.a and $(API_LDLIBS) (-levent -ljansson -lpthread).
 */
#ifndef NM_API_H
#define NM_API_H

#include <jansson.h>
#include <stddef.h>

#include "router/rt_ctl.h"

struct api;

/*
 * Checks an "api" config object without opening anything (for the config loader, so a bad
 * key fails before any interface is touched). api_cfg may be NULL. Returns 0 or -EINVAL
 * with err naming the key ("api.tcp: ...").
 */
int api_check_config(const json_t *api_cfg, char *err, size_t errlen);

/*
 * Starts the API. api_cfg: the config's "api" object or NULL (defaults). config_path: the
 * file GET /v1/config is based on and POST /v1/config/save writes (may be NULL: save then
 * answers 409). Returns NULL with errno set and err filled (names the socket/address and
 * the reason) on failure.
 */
struct api *api_start(struct rt *rt, const json_t *api_cfg, const char *config_path, char *err,
                      size_t errlen);

/* Stops the control thread, closes the listeners, unlinks the Unix socket. NULL is safe. */
void api_stop(struct api *a);

/*
 * The API's vocabulary, shared with the config loader so that a file written by
 * POST /v1/config/save reads back the same:
 *   route:    {"dst": "default" | "10.0.0.0/8" | "192.0.2.1", "gateway": IP, "dev": NAME,
 *              "protocol": "static"}   (gateway or dev required; no host bits in dst)
 *   neighbor: {"dst": IP, "lladdr": "02:00:00:00:00:01", "dev": NAME, "state": "PERMANENT"}
 * where names the item in messages (e.g. "routes[3]"). Return 0 or -EINVAL with err set.
 */
int api_route_from_json(const json_t *o, const char *where, struct rt_route *r, char *err,
                        size_t errlen);
int api_neigh_from_json(const json_t *o, const char *where, struct rt_neigh *nb, char *err,
                        size_t errlen);

#endif /* NM_API_H */
