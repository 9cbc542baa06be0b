#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
        KILN_RESOURCE_DNS,
        KILN_RESOURCE_CIDR,
        KILN_RESOURCE_INTERNET,
} KilnResourceKind;

typedef enum {
        KILN_SITE_UNKNOWN,
        KILN_SITE_ONLINE,
        KILN_SITE_OFFLINE,
} KilnSiteStatus;

#define KILN_TYPE_RESOURCE (kiln_resource_get_type())
G_DECLARE_FINAL_TYPE(KilnResource, kiln_resource, KILN, RESOURCE, GObject)

/* Builds a resource from one of kilnd's "Resources" dictionaries (ipc/dev.kiln.Tunnel1.xml).
 * kilnd is trusted but checked: a dictionary with a missing or mistyped field gives NULL and
 * @error, and the caller skips that one resource. */
KilnResource *kiln_resource_new_from_variant(GVariant *dict, GError **error);

const char *kiln_resource_get_id(KilnResource *self);
KilnResourceKind kiln_resource_get_kind(KilnResource *self);
const char *kiln_resource_get_name(KilnResource *self);
const char *kiln_resource_get_address(KilnResource *self);
const char *kiln_resource_get_address_description(KilnResource *self);
/* The first site, as Firezone's menu shows; NULL when the resource has none. */
const char *kiln_resource_get_site_name(KilnResource *self);
KilnSiteStatus kiln_resource_get_site_status(KilnResource *self);
gboolean kiln_resource_get_enabled(KilnResource *self);
/* The user-visible text of a site status ("Gateway connected", …), translated. */
const char *kiln_site_status_to_string(KilnSiteStatus status);
/* TRUE when the description is an http(s) URL to open rather than text to copy. */
gboolean kiln_resource_description_is_url(KilnResource *self);

G_END_DECLS
