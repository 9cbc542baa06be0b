/* SPDX-License-Identifier: MIT */
/* The WebSocket upgrade checks of specs/firezone-control-plane.md §1: the token (X-Authorization
 * "Bearer …", else ?token=), the User-Agent's component/x.y.z, external_id and a 44-character
 * base64 public_key.  A refusal is an RFC 9457 problem: 401 invalid_token / missing_token, 400
 * invalid_connect_params. */
#pragma once

#include <glib.h>

#include "tests/portal/config.h"

typedef enum {
        TP_ROLE_CLIENT,
        TP_ROLE_GATEWAY,
} TpRole;

enum {
        TP_PARAM_MAX = 255,
};

typedef struct {
        guint status;
        const char *code;
        char *detail;
} TpProblem;

typedef struct {
        TpRole role;
        const TpAccount *account;
        const TpUser *user;       /* client role */
        const TpGateway *gateway; /* gateway role */
        gint64 expires_at;        /* client token expiry; 0 for gateways */
        char *external_id;
        char *name;
        char *public_key;
        char *component;
        char *version;
} TpConnectInfo;

void tp_problem_clear(TpProblem *problem);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(TpProblem, tp_problem_clear)
void tp_connect_info_clear(TpConnectInfo *info);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(TpConnectInfo, tp_connect_info_clear)

/* {"type":"about:blank","title":…,"status":…,"detail":…,"code":…} */
char *tp_problem_to_json(const TpProblem *problem);

/* query may be NULL; header values may be NULL when absent.  Returns TRUE and fills ret_info,
 * or FALSE and fills ret_problem. */
gboolean tp_handshake_check(const TpConfig *config, TpRole role, GHashTable *query,
                            const char *x_authorization, const char *user_agent, gint64 now,
                            TpConnectInfo *ret_info, TpProblem *ret_problem);
