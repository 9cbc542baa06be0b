#include "app/kiln/kiln-tunnel-state.h"

#include <glib/gi18n.h>
#include <string.h>

struct _KilnTunnelState {
        GObject parent_instance;
        GCancellable *cancellable;
        KilnDBusTunnel1 *proxy;
        gboolean service_available;
        char *unavailable_reason;
        char *state;
        char *actor_name;
        char *account_slug;
        gboolean internet_resource_enabled;
        char *log_level;
        char *version;
        GListStore *resources;
};

G_DEFINE_FINAL_TYPE(KilnTunnelState, kiln_tunnel_state, G_TYPE_OBJECT)

enum {
        PROP_0,
        PROP_SERVICE_AVAILABLE,
        PROP_UNAVAILABLE_REASON,
        PROP_STATE,
        PROP_ACTOR_NAME,
        PROP_ACCOUNT_SLUG,
        PROP_INTERNET_RESOURCE_ENABLED,
        PROP_LOG_LEVEL,
        PROP_VERSION,
        N_PROPS
};
static GParamSpec *props[N_PROPS];

enum {
        SIGNAL_CHANGED,
        SIGNAL_ERROR,
        SIGNAL_RESOURCE_UNREACHABLE,
        N_SIGNALS
};
static guint signals[N_SIGNALS];

static const char *const known_states[] = { "signed-out", "connecting", "raising-tunnel",
                                            "connected",  "error",      NULL };

static void kiln_tunnel_state_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
        KilnTunnelState *self = KILN_TUNNEL_STATE(object);
        switch (id) {
        case PROP_SERVICE_AVAILABLE:
                g_value_set_boolean(value, self->service_available);
                break;
        case PROP_UNAVAILABLE_REASON:
                g_value_set_string(value, self->unavailable_reason);
                break;
        case PROP_STATE:
                g_value_set_string(value, self->state);
                break;
        case PROP_ACTOR_NAME:
                g_value_set_string(value, self->actor_name);
                break;
        case PROP_ACCOUNT_SLUG:
                g_value_set_string(value, self->account_slug);
                break;
        case PROP_INTERNET_RESOURCE_ENABLED:
                g_value_set_boolean(value, self->internet_resource_enabled);
                break;
        case PROP_LOG_LEVEL:
                g_value_set_string(value, self->log_level);
                break;
        case PROP_VERSION:
                g_value_set_string(value, self->version);
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
        }
}

static void kiln_tunnel_state_dispose(GObject *object)
{
        KilnTunnelState *self = KILN_TUNNEL_STATE(object);
        g_cancellable_cancel(self->cancellable);
        g_clear_object(&self->cancellable);
        g_clear_object(&self->proxy);
        g_clear_object(&self->resources);
        G_OBJECT_CLASS(kiln_tunnel_state_parent_class)->dispose(object);
}

static void kiln_tunnel_state_finalize(GObject *object)
{
        KilnTunnelState *self = KILN_TUNNEL_STATE(object);
        g_free(self->unavailable_reason);
        g_free(self->state);
        g_free(self->actor_name);
        g_free(self->account_slug);
        g_free(self->log_level);
        g_free(self->version);
        G_OBJECT_CLASS(kiln_tunnel_state_parent_class)->finalize(object);
}

static void kiln_tunnel_state_class_init(KilnTunnelStateClass *klass)
{
        GObjectClass *object_class = G_OBJECT_CLASS(klass);
        GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

        object_class->get_property = kiln_tunnel_state_get_property;
        object_class->dispose = kiln_tunnel_state_dispose;
        object_class->finalize = kiln_tunnel_state_finalize;

        props[PROP_SERVICE_AVAILABLE] = g_param_spec_boolean("service-available", NULL, NULL, FALSE, flags);
        props[PROP_UNAVAILABLE_REASON] = g_param_spec_string("unavailable-reason", NULL, NULL, NULL, flags);
        props[PROP_STATE] = g_param_spec_string("state", NULL, NULL, "signed-out", flags);
        props[PROP_ACTOR_NAME] = g_param_spec_string("actor-name", NULL, NULL, "", flags);
        props[PROP_ACCOUNT_SLUG] = g_param_spec_string("account-slug", NULL, NULL, "", flags);
        props[PROP_INTERNET_RESOURCE_ENABLED] =
            g_param_spec_boolean("internet-resource-enabled", NULL, NULL, FALSE, flags);
        props[PROP_LOG_LEVEL] = g_param_spec_string("log-level", NULL, NULL, "", flags);
        props[PROP_VERSION] = g_param_spec_string("version", NULL, NULL, "", flags);
        g_object_class_install_properties(object_class, N_PROPS, props);

        signals[SIGNAL_CHANGED] = g_signal_new("changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
                                               NULL, NULL, NULL, G_TYPE_NONE, 0);
        signals[SIGNAL_ERROR] = g_signal_new("error", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                             NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BOOLEAN);
        signals[SIGNAL_RESOURCE_UNREACHABLE] =
            g_signal_new("resource-unreachable", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                         NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

static void kiln_tunnel_state_init(KilnTunnelState *self)
{
        self->cancellable = g_cancellable_new();
        self->unavailable_reason = g_strdup(_("Connecting to the Kiln tunnel service…"));
        self->state = g_strdup("signed-out");
        self->actor_name = g_strdup("");
        self->account_slug = g_strdup("");
        self->log_level = g_strdup("");
        self->version = g_strdup("");
        self->resources = g_list_store_new(KILN_TYPE_RESOURCE);
}

KilnTunnelState *kiln_tunnel_state_new(void)
{
        return g_object_new(KILN_TYPE_TUNNEL_STATE, NULL);
}

static void update_string(KilnTunnelState *self, char **slot, const char *value, guint prop)
{
        if (g_strcmp0(*slot, value) == 0)
                return;
        g_free(*slot);
        *slot = g_strdup(value);
        g_object_notify_by_pspec(G_OBJECT(self), props[prop]);
}

static void update_bool(KilnTunnelState *self, gboolean *slot, gboolean value, guint prop)
{
        if (*slot == !!value)
                return;
        *slot = !!value;
        g_object_notify_by_pspec(G_OBJECT(self), props[prop]);
}

static void apply_string(KilnTunnelState *self, GVariantDict *dict, const char *key, char **slot, guint prop)
{
        const char *value;
        if (g_variant_dict_lookup(dict, key, "&s", &value))
                update_string(self, slot, value, prop);
}

/* One order for the tray and the Overview whatever order the portal sends: the Internet
 * Resource first, then by name as people read it (case-insensitive, "Host 2" before "Host 10"). */
static int compare_resources(gconstpointer a, gconstpointer b)
{
        KilnResource *ra = *(KilnResource *const *)a;
        KilnResource *rb = *(KilnResource *const *)b;
        gboolean ia = kiln_resource_get_kind(ra) == KILN_RESOURCE_INTERNET;
        gboolean ib = kiln_resource_get_kind(rb) == KILN_RESOURCE_INTERNET;

        if (ia != ib)
                return ia ? -1 : 1;
        g_autofree char *fa = g_utf8_casefold(kiln_resource_get_name(ra), -1);
        g_autofree char *fb = g_utf8_casefold(kiln_resource_get_name(rb), -1);
        g_autofree char *ka = g_utf8_collate_key_for_filename(fa, -1);
        g_autofree char *kb = g_utf8_collate_key_for_filename(fb, -1);
        int c = strcmp(ka, kb);
        return c ? c : strcmp(kiln_resource_get_id(ra), kiln_resource_get_id(rb));
}

static void apply_resources(KilnTunnelState *self, GVariant *list)
{
        g_autoptr(GPtrArray) fresh = g_ptr_array_new_with_free_func(g_object_unref);
        GVariantIter iter;
        GVariant *child;

        g_variant_iter_init(&iter, list);
        while ((child = g_variant_iter_next_value(&iter))) {
                g_autoptr(GError) error = NULL;
                KilnResource *resource = kiln_resource_new_from_variant(child, &error);
                g_variant_unref(child);
                if (!resource) {
                        g_warning("skipping a resource from kilnd: %s", error->message);
                        continue;
                }
                g_ptr_array_add(fresh, resource);
        }
        g_ptr_array_sort(fresh, compare_resources);
        g_list_store_splice(self->resources, 0, g_list_model_get_n_items(G_LIST_MODEL(self->resources)),
                            fresh->pdata, fresh->len);
}

void kiln_tunnel_state_apply(KilnTunnelState *self, gboolean service_available, GVariant *properties)
{
        g_autoptr(GVariantDict) dict = g_variant_dict_new(properties);
        g_autoptr(GVariant) resources = NULL;
        const char *state;
        gboolean enabled;

        g_return_if_fail(KILN_IS_TUNNEL_STATE(self));
        g_object_freeze_notify(G_OBJECT(self));
        update_bool(self, &self->service_available, service_available, PROP_SERVICE_AVAILABLE);
        if (service_available)
                update_string(self, &self->unavailable_reason, NULL, PROP_UNAVAILABLE_REASON);
        if (g_variant_dict_lookup(dict, "State", "&s", &state)) {
                if (!g_strv_contains(known_states, state)) {
                        g_warning("kilnd reported an unknown state '%s'; treating it as an error", state);
                        state = "error";
                }
                update_string(self, &self->state, state, PROP_STATE);
        }
        apply_string(self, dict, "ActorName", &self->actor_name, PROP_ACTOR_NAME);
        apply_string(self, dict, "AccountSlug", &self->account_slug, PROP_ACCOUNT_SLUG);
        apply_string(self, dict, "LogLevel", &self->log_level, PROP_LOG_LEVEL);
        apply_string(self, dict, "Version", &self->version, PROP_VERSION);
        if (g_variant_dict_lookup(dict, "InternetResourceEnabled", "b", &enabled))
                update_bool(self, &self->internet_resource_enabled, enabled, PROP_INTERNET_RESOURCE_ENABLED);
        resources = g_variant_dict_lookup_value(dict, "Resources", G_VARIANT_TYPE("aa{sv}"));
        if (resources)
                apply_resources(self, resources);
        g_object_thaw_notify(G_OBJECT(self));
        g_signal_emit(self, signals[SIGNAL_CHANGED], 0);
}

static void set_unavailable(KilnTunnelState *self, const char *reason)
{
        g_autoptr(GVariant) empty = g_variant_ref_sink(g_variant_new("a{sv}", NULL));
        g_message("kilnd unavailable: %s", reason);
        update_string(self, &self->unavailable_reason, reason, PROP_UNAVAILABLE_REASON);
        g_list_store_remove_all(self->resources);
        update_string(self, &self->state, "signed-out", PROP_STATE);
        kiln_tunnel_state_apply(self, FALSE, empty);
}

static void reload_from_proxy(KilnTunnelState *self)
{
        GDBusProxy *proxy = G_DBUS_PROXY(self->proxy);
        g_autofree char *owner = g_dbus_proxy_get_name_owner(proxy);
        g_auto(GStrv) names = NULL;
        g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);

        if (!owner) {
                set_unavailable(self, _("The Kiln tunnel service (kilnd) is not running."));
                return;
        }
        names = g_dbus_proxy_get_cached_property_names(proxy);
        for (char **n = names; n && *n; n++) {
                g_autoptr(GVariant) value = g_dbus_proxy_get_cached_property(proxy, *n);
                if (value)
                        g_variant_builder_add(&builder, "{sv}", *n, value);
        }
        g_autoptr(GVariant) snapshot = g_variant_ref_sink(g_variant_builder_end(&builder));
        kiln_tunnel_state_apply(self, TRUE, snapshot);
}

static void on_properties_changed(GDBusProxy *proxy, GVariant *changed, GStrv invalidated,
                                  gpointer user_data)
{
        reload_from_proxy(user_data);
}

static void on_name_owner(GObject *proxy, GParamSpec *pspec, gpointer user_data)
{
        reload_from_proxy(user_data);
}

static void on_error(KilnDBusTunnel1 *proxy, const char *message, gboolean requires_sign_in,
                     gpointer user_data)
{
        g_signal_emit(user_data, signals[SIGNAL_ERROR], 0, message, requires_sign_in);
}

static void on_unreachable(KilnDBusTunnel1 *proxy, const char *id, const char *reason, const char *message,
                           gpointer user_data)
{
        g_signal_emit(user_data, signals[SIGNAL_RESOURCE_UNREACHABLE], 0, id, reason, message);
}

static void on_proxy_ready(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(GError) error = NULL;
        KilnDBusTunnel1 *proxy = kiln_dbus_tunnel1_proxy_new_finish(result, &error);

        if (!proxy) {
                if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                        return;
                KilnTunnelState *self = user_data;
                g_autofree char *reason =
                    g_strdup_printf(_("Cannot reach the Kiln tunnel service: %s"), error->message);
                set_unavailable(self, reason);
                return;
        }
        KilnTunnelState *self = user_data;
        self->proxy = proxy;
        g_signal_connect_object(proxy, "g-properties-changed", G_CALLBACK(on_properties_changed), self, 0);
        g_signal_connect_object(proxy, "notify::g-name-owner", G_CALLBACK(on_name_owner), self, 0);
        g_signal_connect_object(proxy, "error", G_CALLBACK(on_error), self, 0);
        g_signal_connect_object(proxy, "resource-unreachable", G_CALLBACK(on_unreachable), self, 0);
        reload_from_proxy(self);
}

static void on_bus_ready(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusConnection) bus = NULL;

        if (g_getenv("KILN_TUNNEL_BUS_ADDRESS"))
                bus = g_dbus_connection_new_for_address_finish(result, &error);
        else
                bus = g_bus_get_finish(result, &error);
        if (!bus) {
                if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                        return;
                KilnTunnelState *self = user_data;
                g_autofree char *reason = g_strdup_printf(
                    _("Cannot reach the system bus, so the Kiln tunnel service is not available: %s"),
                    error->message);
                set_unavailable(self, reason);
                return;
        }
        KilnTunnelState *self = user_data;
        kiln_dbus_tunnel1_proxy_new(bus, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, KILN_TUNNEL_BUS_NAME,
                                    KILN_TUNNEL_OBJECT_PATH, self->cancellable, on_proxy_ready, self);
}

void kiln_tunnel_state_connect(KilnTunnelState *self)
{
        const char *address = g_getenv("KILN_TUNNEL_BUS_ADDRESS");

        g_return_if_fail(KILN_IS_TUNNEL_STATE(self));
        if (address)
                g_dbus_connection_new_for_address(address,
                                                  G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                      G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                  NULL, self->cancellable, on_bus_ready, self);
        else
                g_bus_get(G_BUS_TYPE_SYSTEM, self->cancellable, on_bus_ready, self);
}

gboolean kiln_tunnel_state_get_service_available(KilnTunnelState *self)
{
        return self->service_available;
}

const char *kiln_tunnel_state_get_unavailable_reason(KilnTunnelState *self)
{
        return self->unavailable_reason;
}

const char *kiln_tunnel_state_get_state(KilnTunnelState *self)
{
        return self->state;
}

const char *kiln_tunnel_state_get_actor_name(KilnTunnelState *self)
{
        return self->actor_name;
}

const char *kiln_tunnel_state_get_account_slug(KilnTunnelState *self)
{
        return self->account_slug;
}

gboolean kiln_tunnel_state_get_internet_resource_enabled(KilnTunnelState *self)
{
        return self->internet_resource_enabled;
}

const char *kiln_tunnel_state_get_version(KilnTunnelState *self)
{
        return self->version;
}

GListModel *kiln_tunnel_state_get_resources(KilnTunnelState *self)
{
        return G_LIST_MODEL(self->resources);
}

KilnResource *kiln_tunnel_state_find_resource(KilnTunnelState *self, const char *id)
{
        guint n = g_list_model_get_n_items(G_LIST_MODEL(self->resources));
        for (guint i = 0; i < n; i++) {
                g_autoptr(KilnResource) r = g_list_model_get_item(G_LIST_MODEL(self->resources), i);
                if (strcmp(kiln_resource_get_id(r), id) == 0)
                        return r;
        }
        return NULL;
}

KilnDBusTunnel1 *kiln_tunnel_state_get_proxy(KilnTunnelState *self)
{
        return self->service_available ? self->proxy : NULL;
}
