#include "app/kiln/kiln-resource.h"

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <string.h>

/* Longest string field accepted from kilnd. */
#define MAX_FIELD_LEN 1024

struct _KilnResource {
        GObject parent_instance;
        char *id;
        KilnResourceKind kind;
        char *name;
        char *address;
        char *address_description;
        char *site_name;
        KilnSiteStatus site_status;
        gboolean enabled;
};

G_DEFINE_FINAL_TYPE(KilnResource, kiln_resource, G_TYPE_OBJECT)

static void kiln_resource_finalize(GObject *object)
{
        KilnResource *self = KILN_RESOURCE(object);
        g_free(self->id);
        g_free(self->name);
        g_free(self->address);
        g_free(self->address_description);
        g_free(self->site_name);
        G_OBJECT_CLASS(kiln_resource_parent_class)->finalize(object);
}

static void kiln_resource_class_init(KilnResourceClass *klass)
{
        G_OBJECT_CLASS(klass)->finalize = kiln_resource_finalize;
}

static void kiln_resource_init(KilnResource *self)
{
}

static gboolean lookup_string(GVariantDict *dict, const char *key, gboolean required, char **out,
                              GError **error)
{
        const char *value = NULL;
        if (!g_variant_dict_lookup(dict, key, "&s", &value)) {
                if (!required && !g_variant_dict_contains(dict, key)) {
                        *out = g_strdup("");
                        return TRUE;
                }
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                            "resource field '%s' missing or not a string", key);
                return FALSE;
        }
        if (strlen(value) > MAX_FIELD_LEN) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "resource field '%s' too long", key);
                return FALSE;
        }
        *out = g_strdup(value);
        return TRUE;
}

KilnResource *kiln_resource_new_from_variant(GVariant *variant, GError **error)
{
        g_autoptr(GVariantDict) dict = NULL;
        g_autoptr(KilnResource) self = NULL;
        g_autofree char *type = NULL;
        g_autoptr(GVariant) sites = NULL;

        if (!g_variant_is_of_type(variant, G_VARIANT_TYPE_VARDICT)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "resource is not a dictionary");
                return NULL;
        }
        dict = g_variant_dict_new(variant);
        self = g_object_new(KILN_TYPE_RESOURCE, NULL);
        if (!lookup_string(dict, "id", TRUE, &self->id, error) ||
            !lookup_string(dict, "type", TRUE, &type, error) ||
            !lookup_string(dict, "name", TRUE, &self->name, error) ||
            !lookup_string(dict, "address", FALSE, &self->address, error) ||
            !lookup_string(dict, "address-description", FALSE, &self->address_description, error))
                return NULL;
        if (!*self->id) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "resource without an id");
                return NULL;
        }
        if (strcmp(type, "dns") == 0)
                self->kind = KILN_RESOURCE_DNS;
        else if (strcmp(type, "cidr") == 0)
                self->kind = KILN_RESOURCE_CIDR;
        else if (strcmp(type, "internet") == 0)
                self->kind = KILN_RESOURCE_INTERNET;
        else {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "unknown resource type '%s'", type);
                return NULL;
        }
        if (!g_variant_dict_lookup(dict, "enabled", "b", &self->enabled))
                self->enabled = TRUE;

        sites = g_variant_dict_lookup_value(dict, "sites", G_VARIANT_TYPE("a(sss)"));
        if (sites && g_variant_n_children(sites) > 0) {
                const char *site_id, *site_name, *status;
                g_variant_get_child(sites, 0, "(&s&s&s)", &site_id, &site_name, &status);
                self->site_name = g_strndup(site_name, MAX_FIELD_LEN);
                if (strcmp(status, "online") == 0)
                        self->site_status = KILN_SITE_ONLINE;
                else if (strcmp(status, "offline") == 0)
                        self->site_status = KILN_SITE_OFFLINE;
                else
                        self->site_status = KILN_SITE_UNKNOWN;
        }
        return g_steal_pointer(&self);
}

const char *kiln_resource_get_id(KilnResource *self)
{
        return self->id;
}

KilnResourceKind kiln_resource_get_kind(KilnResource *self)
{
        return self->kind;
}

const char *kiln_resource_get_name(KilnResource *self)
{
        return self->name;
}

const char *kiln_resource_get_address(KilnResource *self)
{
        return self->address;
}

const char *kiln_resource_get_address_description(KilnResource *self)
{
        return self->address_description;
}

const char *kiln_resource_get_site_name(KilnResource *self)
{
        return self->site_name;
}

KilnSiteStatus kiln_resource_get_site_status(KilnResource *self)
{
        return self->site_status;
}

gboolean kiln_resource_get_enabled(KilnResource *self)
{
        return self->enabled;
}

const char *kiln_site_status_to_string(KilnSiteStatus status)
{
        switch (status) {
        case KILN_SITE_ONLINE:
                return _("Gateway connected");
        case KILN_SITE_OFFLINE:
                return _("All Gateways offline");
        case KILN_SITE_UNKNOWN:
        default:
                return _("No activity");
        }
}

gboolean kiln_resource_description_is_url(KilnResource *self)
{
        const char *d = self->address_description;
        if (!g_str_has_prefix(d, "https://") && !g_str_has_prefix(d, "http://"))
                return FALSE;
        g_autoptr(GUri) uri = g_uri_parse(d, G_URI_FLAGS_NONE, NULL);
        return uri && g_uri_get_host(uri) && *g_uri_get_host(uri);
}
