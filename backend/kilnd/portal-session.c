/* SPDX-License-Identifier: MIT */
#include "backend/kilnd/portal-session.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <sodium.h>

#include "backend/crypto/keys.h"
#include "backend/platform/addresses.h"
#include "backend/platform/tun.h"
#include "backend/portal/client.h"
#include "backend/portal/device-id.h"

#define T_PORTAL               "kilnd::portal"
#define T_TUN                  "kilnd::tun"

#define INTERNET_RESOURCE_NAME "Internet Resource"

struct _KilnPortalBackedSession {
        GObject parent_instance;
        KilnLogger *logger;
        char *device_id;
        KilnSessionState state;

        KilnSessionOptions *options;
        char *token; /* sodium_malloc: locked, guarded, wiped on free */
        size_t token_len;
        uint8_t *private_key; /* sodium_malloc'd WG_KEY_LEN bytes, for the tunnel engine */
        uint8_t public_key[WG_KEY_LEN];
        KilnPortalClient *client;

        /* The resources as the portal last described them, in the order it sent them. */
        GPtrArray *resources; /* KilnPortalResource, each kept alive by the message at the same index */
        GPtrArray *owners;    /* KilnPortalMessage refs, parallel to `resources` */

        int tun_fd;
        unsigned ifindex;
        KilnIfAddress addresses[2];
        guint n_addresses;
};

static void kiln_portal_backed_session_iface_init(KilnSessionInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE(KilnPortalBackedSession, kiln_portal_backed_session, G_TYPE_OBJECT,
                              G_IMPLEMENT_INTERFACE(KILN_TYPE_SESSION,
                                                    kiln_portal_backed_session_iface_init))

static void set_state(KilnPortalBackedSession *self, KilnSessionState state)
{
        if (self->state == state)
                return;
        self->state = state;
        kiln_log(self->logger, KILN_LOG_INFO, T_PORTAL, "session state",
                 KILN_LOG_STR("state", kiln_session_state_to_string(state)));
        kiln_session_emit_state_changed(KILN_SESSION(self), state);
}

static gboolean internet_resource_enabled(KilnPortalBackedSession *self)
{
        return self->options && self->options->has_internet_resource_enabled &&
               self->options->internet_resource_enabled;
}

static GVariant *resource_variant(KilnPortalBackedSession *self, const KilnPortalResource *r)
{
        GVariantBuilder b, sites;

        g_variant_builder_init(&sites, G_VARIANT_TYPE("a(sss)"));
        for (guint i = 0; r->sites && i < r->sites->len; i++) {
                const KilnPortalSite *site = g_ptr_array_index(r->sites, i);

                /* "unknown" until a tunnel engine reports the gateways of the site. */
                g_variant_builder_add(&sites, "(sss)", site->id, site->name ? site->name : "", "unknown");
        }
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "id", g_variant_new_string(r->id));
        g_variant_builder_add(&b, "{sv}", "type",
                              g_variant_new_string(kiln_portal_resource_type_to_string(r->type)));
        g_variant_builder_add(&b, "{sv}", "name",
                              g_variant_new_string(r->name ? r->name
                                                   : r->type == KILN_PORTAL_RESOURCE_INTERNET
                                                       ? INTERNET_RESOURCE_NAME
                                                       : ""));
        g_variant_builder_add(&b, "{sv}", "address", g_variant_new_string(r->address ? r->address : ""));
        g_variant_builder_add(&b, "{sv}", "address-description",
                              g_variant_new_string(r->address_description ? r->address_description : ""));
        g_variant_builder_add(&b, "{sv}", "sites", g_variant_builder_end(&sites));
        g_variant_builder_add(&b, "{sv}", "enabled",
                              g_variant_new_boolean(r->type != KILN_PORTAL_RESOURCE_INTERNET ||
                                                    internet_resource_enabled(self)));
        return g_variant_builder_end(&b);
}

/* Only the types the D-Bus contract knows; device pools are client-to-client, not listed. */
static gboolean is_listed(const KilnPortalResource *r)
{
        return r->type == KILN_PORTAL_RESOURCE_DNS || r->type == KILN_PORTAL_RESOURCE_CIDR ||
               r->type == KILN_PORTAL_RESOURCE_INTERNET;
}

static void publish_resources(KilnPortalBackedSession *self)
{
        GVariantBuilder b;
        guint n = 0;

        g_variant_builder_init(&b, G_VARIANT_TYPE("aa{sv}"));
        for (guint i = 0; i < self->resources->len; i++) {
                const KilnPortalResource *r = g_ptr_array_index(self->resources, i);

                if (!is_listed(r))
                        continue;
                g_variant_builder_add_value(&b, resource_variant(self, r));
                n++;
        }
        kiln_log(self->logger, KILN_LOG_INFO, T_PORTAL, "resources", KILN_LOG_INT("count", n));
        kiln_session_emit_resources_changed(KILN_SESSION(self), g_variant_builder_end(&b));
}

static void log_resource(KilnPortalBackedSession *self, const char *what, const KilnPortalResource *r)
{
        kiln_log(self->logger, KILN_LOG_INFO, T_PORTAL, what, KILN_LOG_STR("id", r->id),
                 KILN_LOG_STR("type", kiln_portal_resource_type_to_string(r->type)),
                 KILN_LOG_STR("name", r->name ? r->name : ""),
                 KILN_LOG_STR("address", r->address ? r->address : ""));
}

static int find_resource(KilnPortalBackedSession *self, const char *id)
{
        for (guint i = 0; i < self->resources->len; i++) {
                const KilnPortalResource *r = g_ptr_array_index(self->resources, i);

                if (g_str_equal(r->id, id))
                        return (int)i;
        }
        return -1;
}

static void close_tun(KilnPortalBackedSession *self)
{
        if (self->tun_fd < 0)
                return;
        /* The device, its addresses and routes go with the last fd. */
        close(self->tun_fd);
        self->tun_fd = -1;
        self->ifindex = 0;
        self->n_addresses = 0;
        kiln_log(self->logger, KILN_LOG_INFO, T_TUN, "tunnel device removed",
                 KILN_LOG_STR("device", KILN_TUN_NAME));
}

/* Everything a session holds, gone: the portal channel, the device, the token and the keys. */
static void teardown(KilnPortalBackedSession *self)
{
        if (self->client) {
                g_signal_handlers_disconnect_by_data(self->client, self);
                kiln_portal_client_stop(self->client);
                g_clear_object(&self->client);
        }
        close_tun(self);
        g_ptr_array_set_size(self->resources, 0);
        g_ptr_array_set_size(self->owners, 0);
        if (self->token) {
                sodium_memzero(self->token, self->token_len);
                sodium_free(self->token);
                self->token = NULL;
                self->token_len = 0;
        }
        if (self->private_key) {
                sodium_memzero(self->private_key, WG_KEY_LEN);
                sodium_free(self->private_key);
                self->private_key = NULL;
        }
        sodium_memzero(self->public_key, sizeof(self->public_key));
        g_clear_pointer(&self->options, kiln_session_options_free);
}

/* The session ends on its own: tell kilnd why, then settle in `final`. */
static void end_with_error(KilnPortalBackedSession *self, const char *message, gboolean requires_sign_in,
                           KilnSessionState final)
{
        kiln_log(self->logger, KILN_LOG_ERROR, T_PORTAL, "session ended", KILN_LOG_STR("error", message),
                 KILN_LOG_BOOL("requires_sign_in", requires_sign_in));
        teardown(self);
        kiln_session_emit_error(KILN_SESSION(self), message, requires_sign_in);
        set_state(self, final);
}

static const char *address_text(const KilnIfAddress *a, char buf[static INET6_ADDRSTRLEN])
{
        return inet_ntop(a->family, &a->in6, buf, INET6_ADDRSTRLEN);
}

/*
 * Puts the interface's addresses on the device: the IPv4 as /32, the IPv6 as /128 (data-plane
 * §7.1), replacing earlier ones that changed.  One family failing leaves a single-stack tunnel;
 * both failing is fatal.
 */
static int apply_interface(KilnPortalBackedSession *self, const KilnPortalInterface *iface)
{
        KilnIfAddress want[2];
        guint n_want = 0, n_ok = 0;
        char buf[INET6_ADDRSTRLEN];

        if (kiln_if_address_parse(iface->ipv4, &want[n_want]) == 0 && want[n_want].family == AF_INET)
                n_want++;
        if (kiln_if_address_parse(iface->ipv6, &want[n_want]) == 0 && want[n_want].family == AF_INET6)
                n_want++;
        if (n_want == 0)
                return -EINVAL;

        for (guint i = 0; i < self->n_addresses; i++) {
                gboolean kept = FALSE;

                for (guint j = 0; j < n_want; j++)
                        kept = kept || memcmp(&self->addresses[i], &want[j], sizeof(want[j])) == 0;
                if (!kept)
                        (void)kiln_if_address_del(self->ifindex, &self->addresses[i]);
        }
        self->n_addresses = 0;
        for (guint j = 0; j < n_want; j++) {
                int r = kiln_if_address_add(self->ifindex, &want[j]);

                if (r < 0) {
                        kiln_log(self->logger, KILN_LOG_WARN, T_TUN, "cannot add an address",
                                 KILN_LOG_STR("address", address_text(&want[j], buf)),
                                 KILN_LOG_STR("error", g_strerror(-r)));
                        continue;
                }
                kiln_log(self->logger, KILN_LOG_INFO, T_TUN, "address set",
                         KILN_LOG_STR("device", KILN_TUN_NAME),
                         KILN_LOG_STR("address", address_text(&want[j], buf)),
                         KILN_LOG_INT("prefix", want[j].prefixlen));
                self->addresses[self->n_addresses++] = want[j];
                n_ok++;
        }
        return n_ok > 0 ? 0 : -EADDRNOTAVAIL;
}

static int raise_tunnel(KilnPortalBackedSession *self, const KilnPortalInterface *iface)
{
        char name[IFNAMSIZ];
        int fd, r;

        fd = tun_open(KILN_TUN_NAME, KILN_TUN_MTU, name);
        if (fd < 0)
                return fd;
        self->tun_fd = fd;
        self->ifindex = if_nametoindex(name);
        if (self->ifindex == 0) {
                r = -errno;
                close_tun(self);
                return r;
        }
        /* Only the portal's addresses on the device: no link-local fe80:: (Firezone does the same). */
        r = kiln_if_disable_ipv6_link_local(self->ifindex);
        if (r < 0)
                kiln_log(self->logger, KILN_LOG_WARN, T_TUN, "cannot turn off the IPv6 link-local address",
                         KILN_LOG_STR("error", g_strerror(-r)));
        kiln_log(self->logger, KILN_LOG_INFO, T_TUN, "tunnel device up", KILN_LOG_STR("device", name),
                 KILN_LOG_INT("mtu", KILN_TUN_MTU));
        r = apply_interface(self, iface);
        if (r < 0)
                close_tun(self);
        return r;
}

static void on_init(KilnPortalClient *client, KilnPortalMessage *message, KilnPortalBackedSession *self)
{
        const KilnPortalInit *init = message->init;
        int r;

        kiln_log(self->logger, KILN_LOG_INFO, T_PORTAL, "init", KILN_LOG_STR("ipv4", init->interface->ipv4),
                 KILN_LOG_STR("ipv6", init->interface->ipv6),
                 KILN_LOG_INT("resources", init->resources->len), KILN_LOG_INT("relays", init->relays->len));
        /* init replaces everything: it follows every join, reconnects included. */
        g_ptr_array_set_size(self->resources, 0);
        g_ptr_array_set_size(self->owners, 0);
        for (guint i = 0; i < init->resources->len; i++) {
                KilnPortalResource *res = g_ptr_array_index(init->resources, i);

                log_resource(self, "resource", res);
                g_ptr_array_add(self->resources, res);
                g_ptr_array_add(self->owners, kiln_portal_message_ref(message));
        }

        if (self->tun_fd < 0) {
                set_state(self, KILN_SESSION_RAISING_TUNNEL);
                r = raise_tunnel(self, init->interface);
        } else {
                r = apply_interface(self, init->interface);
        }
        if (r < 0) {
                g_autofree char *text =
                    g_strdup_printf("cannot raise the tunnel device %s: %s", KILN_TUN_NAME, g_strerror(-r));

                end_with_error(self, text, FALSE, KILN_SESSION_ERROR);
                return;
        }
        publish_resources(self);
        set_state(self, KILN_SESSION_CONNECTED);
}

static void on_config_changed(KilnPortalClient *client, KilnPortalMessage *message,
                              KilnPortalBackedSession *self)
{
        int r;

        kiln_log(self->logger, KILN_LOG_INFO, T_PORTAL, "interface config changed",
                 KILN_LOG_STR("ipv4", message->interface->ipv4),
                 KILN_LOG_STR("ipv6", message->interface->ipv6));
        if (self->tun_fd < 0)
                return;
        r = apply_interface(self, message->interface);
        if (r < 0)
                kiln_log(self->logger, KILN_LOG_WARN, T_TUN, "the new interface addresses did not apply",
                         KILN_LOG_STR("error", g_strerror(-r)));
}

static void on_resource_updated(KilnPortalClient *client, KilnPortalMessage *message,
                                KilnPortalBackedSession *self)
{
        KilnPortalResource *r = message->resource;
        int at = find_resource(self, r->id);

        log_resource(self, at < 0 ? "resource added" : "resource updated", r);
        /* In place, so that lists keep their order for the user. */
        if (at < 0) {
                g_ptr_array_add(self->resources, r);
                g_ptr_array_add(self->owners, kiln_portal_message_ref(message));
        } else {
                kiln_portal_message_unref(self->owners->pdata[at]);
                self->owners->pdata[at] = kiln_portal_message_ref(message);
                self->resources->pdata[at] = r;
        }
        publish_resources(self);
}

static void on_resource_deleted(KilnPortalClient *client, KilnPortalMessage *message,
                                KilnPortalBackedSession *self)
{
        int at = find_resource(self, message->resource_id);

        kiln_log(self->logger, KILN_LOG_INFO, T_PORTAL, "resource removed",
                 KILN_LOG_STR("id", message->resource_id), KILN_LOG_BOOL("known", at >= 0));
        if (at < 0)
                return;
        g_ptr_array_remove_index(self->resources, (guint)at);
        g_ptr_array_remove_index(self->owners, (guint)at);
        publish_resources(self);
}

static void on_authorization_failed(KilnPortalClient *client, KilnPortalMessage *message,
                                    KilnPortalBackedSession *self)
{
        const KilnPortalAuthorizationFailed *f = message->authorization_failed;
        const char *reason = f->reason == KILN_PORTAL_FAIL_OFFLINE            ? "offline"
                             : f->reason == KILN_PORTAL_FAIL_VERSION_MISMATCH ? "version-mismatch"
                             : f->reason == KILN_PORTAL_FAIL_FORBIDDEN        ? "forbidden"
                                                                              : "unknown";
        g_autofree char *text = g_strdup_printf("the portal could not authorize the resource: %s",
                                                kiln_portal_fail_reason_to_string(f->reason));

        kiln_session_emit_resource_unreachable(KILN_SESSION(self), f->resource_id, reason, text);
}

static void on_joined(KilnPortalClient *client, KilnPortalBackedSession *self)
{
        kiln_log(self->logger, KILN_LOG_INFO, T_PORTAL, "joined the portal channel");
        /* Firezone's v2 client announces this after every join; Kiln has no ICE-less mode. */
        kiln_portal_client_send(client, KILN_PORTAL_EVENT_SET_SNOWNET_CAPABILITIES,
                                kiln_portal_build_set_snownet_capabilities(FALSE));
}

static void on_hiccup(KilnPortalClient *client, const char *reason, guint delay_ms,
                      KilnPortalBackedSession *self)
{
        kiln_log(self->logger, KILN_LOG_WARN, T_PORTAL,
                 self->state == KILN_SESSION_CONNECTING
                     ? "portal connection failed, still connecting"
                     : "portal connection lost, the tunnel stays up while reconnecting",
                 KILN_LOG_STR("reason", reason), KILN_LOG_INT("retry_in_ms", delay_ms));
}

static void on_fatal(KilnPortalClient *client, int kind, const char *detail, KilnPortalBackedSession *self)
{
        g_autoptr(KilnPortalBackedSession) hold = g_object_ref(self);
        g_autofree char *text = NULL;

        if (kind == KILN_PORTAL_FATAL_SIGN_IN_REQUIRED) {
                text = g_strdup_printf("Your session ended; sign in again (%s)",
                                       detail ? detail : "token rejected");
                end_with_error(self, text, TRUE, KILN_SESSION_SIGNED_OUT);
        } else {
                text = g_strdup_printf("Connection to the portal failed: %s",
                                       detail ? detail : "unknown error");
                end_with_error(self, text, FALSE, KILN_SESSION_ERROR);
        }
}

static gboolean session_start(KilnSession *session, const char *token, const KilnSessionOptions *options,
                              GError **error)
{
        KilnPortalBackedSession *self = KILN_PORTAL_BACKED_SESSION(session);
        g_autofree char *external_id = kiln_device_id_external_id(self->device_id);
        KilnPortalLoginParams params = {
                .api_url = options->api_url,
                .external_id = external_id,
                .name = g_get_host_name(),
        };
        size_t len = strlen(token);

        teardown(self);
        self->token = sodium_malloc(len + 1);
        self->private_key = sodium_malloc(WG_KEY_LEN);
        if (!self->token || !self->private_key) {
                teardown(self);
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                                    "out of locked memory for the secrets");
                return FALSE;
        }
        memcpy(self->token, token, len + 1);
        self->token_len = len;
        self->options = kiln_session_options_copy(options);
        /* A key per session, in memory only (control-plane spec §7.2). */
        curve25519_generate_secret(self->private_key);
        curve25519_generate_public(self->public_key, self->private_key);

        self->client = kiln_portal_client_new(&params, self->token, self->public_key, error);
        if (!self->client) {
                teardown(self);
                return FALSE;
        }
        g_signal_connect(self->client, "message::init", G_CALLBACK(on_init), self);
        g_signal_connect(self->client, "message::config_changed", G_CALLBACK(on_config_changed), self);
        g_signal_connect(self->client, "message::resource_created_or_updated",
                         G_CALLBACK(on_resource_updated), self);
        g_signal_connect(self->client, "message::resource_deleted", G_CALLBACK(on_resource_deleted), self);
        g_signal_connect(self->client, "message::authorization_creation_failed",
                         G_CALLBACK(on_authorization_failed), self);
        g_signal_connect(self->client, "joined", G_CALLBACK(on_joined), self);
        g_signal_connect(self->client, "hiccup", G_CALLBACK(on_hiccup), self);
        g_signal_connect(self->client, "fatal-error", G_CALLBACK(on_fatal), self);

        kiln_log(self->logger, KILN_LOG_INFO, T_PORTAL, "connecting to the portal",
                 KILN_LOG_STR("api_url", options->api_url), KILN_LOG_STR("external_id", external_id),
                 KILN_LOG_SECRET("token"));
        set_state(self, KILN_SESSION_CONNECTING);
        kiln_portal_client_start(self->client);
        return TRUE;
}

static void session_stop(KilnSession *session)
{
        KilnPortalBackedSession *self = KILN_PORTAL_BACKED_SESSION(session);

        teardown(self);
        set_state(self, KILN_SESSION_SIGNED_OUT);
}

static void session_set_internet_resource_enabled(KilnSession *session, gboolean enabled)
{
        KilnPortalBackedSession *self = KILN_PORTAL_BACKED_SESSION(session);

        if (!self->options)
                return;
        self->options->internet_resource_enabled = enabled;
        self->options->has_internet_resource_enabled = TRUE;
        publish_resources(self);
}

static KilnSessionState session_get_state(KilnSession *session)
{
        return KILN_PORTAL_BACKED_SESSION(session)->state;
}

static void kiln_portal_backed_session_iface_init(KilnSessionInterface *iface)
{
        iface->start = session_start;
        iface->stop = session_stop;
        iface->set_internet_resource_enabled = session_set_internet_resource_enabled;
        iface->get_state = session_get_state;
}

static void kiln_portal_backed_session_finalize(GObject *object)
{
        KilnPortalBackedSession *self = KILN_PORTAL_BACKED_SESSION(object);

        teardown(self);
        g_ptr_array_unref(self->resources);
        g_ptr_array_unref(self->owners);
        g_free(self->device_id);
        G_OBJECT_CLASS(kiln_portal_backed_session_parent_class)->finalize(object);
}

static void kiln_portal_backed_session_class_init(KilnPortalBackedSessionClass *klass)
{
        G_OBJECT_CLASS(klass)->finalize = kiln_portal_backed_session_finalize;
}

static void kiln_portal_backed_session_init(KilnPortalBackedSession *self)
{
        self->state = KILN_SESSION_SIGNED_OUT;
        self->tun_fd = -1;
        self->resources = g_ptr_array_new();
        self->owners = g_ptr_array_new_with_free_func((GDestroyNotify)kiln_portal_message_unref);
}

KilnPortalBackedSession *kiln_portal_backed_session_new(KilnLogger *logger, const char *device_id)
{
        KilnPortalBackedSession *self = g_object_new(KILN_TYPE_PORTAL_BACKED_SESSION, NULL);

        self->logger = logger;
        self->device_id = g_strdup(device_id);
        return self;
}
