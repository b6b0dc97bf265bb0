/*
 * The debugging layer's settings: parsing the debug and logging strings
 * (include/kmem/debug.h lists the options) and applying them.
 *
 * A string is parsed whole into a pending configuration, which replaces
 * kmem_debug_config only when every option and value is good; the error
 * names the first bad one.  The settings are fixed before kmem's first
 * allocation -- by kmem_debug_configure(), or by the bootstrap reading the
 * environment (kmem_debug_from_environment()) -- and only read after, so
 * they take no lock.  The log rings are allocated when the settings are
 * applied (kmem_debug_log.c).
 *
 * Part of the freestanding core: no C library; the strings are split by
 * kmem_option_next(), sizes read by kmem_parse_size() (format.c), and the
 * environment comes through the platform.
 */
#include "kmem_impl.h"

#include <kmem/debug.h>

#include "base/format.h"

#define AUDIT_DEPTH_DEFAULT     15
#define CONTENTS_DEFAULT        256
#define LOG_SIZE_DEFAULT        (64 * 1024)

kmem_debug_config_t kmem_debug_config = {
	.audit_depth = AUDIT_DEPTH_DEFAULT,
	.contents_bytes = CONTENTS_DEFAULT,
	.maxverify = SIZE_MAX,
};

static bool configured;         /* by kmem_debug_configure() */

/* Apply one option to *c; NULL or what its value should have been. */
typedef const char *option_apply_t(const kmem_option_t *o,
    kmem_debug_config_t *c);

static bool
value_size(const kmem_option_t *o, uint64_t min, uint64_t max, uint64_t *out)
{
	return (kmem_parse_size(o->value, o->value_len, out) && *out >= min &&
	    *out <= max);
}

static const char *
debug_default(const kmem_option_t *o, kmem_debug_config_t *c)
{
	if (o->value != NULL)
		return ("no value");
	c->flags |= KMF_AUDIT | KMF_CONTENTS | KMF_DEADBEEF | KMF_REDZONE;
	return (NULL);
}

static const char *
debug_audit(const kmem_option_t *o, kmem_debug_config_t *c)
{
	uint64_t frames;
	if (o->value != NULL) {
		if (!value_size(o, 1, KMEM_AUDIT_DEPTH_MAX, &frames))
			return ("a number of stack frames from 1 to 64");
		c->audit_depth = (unsigned)frames;
	}
	c->flags |= KMF_AUDIT;
	return (NULL);
}

static const char *
debug_contents(const kmem_option_t *o, kmem_debug_config_t *c)
{
	uint64_t bytes;
	if (o->value != NULL) {
		if (!value_size(o, 1, KMEM_CONTENTS_MAX, &bytes))
			return ("a number of bytes from 1 to 4k");
		c->contents_bytes = (size_t)bytes;
	}
	c->flags |= KMF_CONTENTS;
	return (NULL);
}

static const char *
debug_guards(const kmem_option_t *o, kmem_debug_config_t *c)
{
	if (o->value != NULL)
		return ("no value");
	c->flags |= KMF_DEADBEEF | KMF_REDZONE;
	return (NULL);
}

static const char *
debug_verbose(const kmem_option_t *o, kmem_debug_config_t *c)
{
	if (o->value != NULL)
		return ("no value");
	c->verbose = true;
	return (NULL);
}

static const char *
debug_firewall(const kmem_option_t *o, kmem_debug_config_t *c)
{
	uint64_t size;
	if (o->value == NULL || !value_size(o, 1, SIZE_MAX, &size))
		return ("a size in bytes, such as 4096 or 4k");
	c->firewall_size = (size_t)size;
	return (NULL);
}

static const char *
debug_lite(const kmem_option_t *o, kmem_debug_config_t *c)
{
	if (o->value != NULL)
		return ("no value");
	c->flags |= KMF_LITE;
	return (NULL);
}

static const char *
debug_maxverify(const kmem_option_t *o, kmem_debug_config_t *c)
{
	uint64_t size;
	if (o->value == NULL || !value_size(o, 0, SIZE_MAX, &size))
		return ("a size in bytes, such as 1024 or 1k");
	c->maxverify = (size_t)size;
	return (NULL);
}

static const char *
debug_noabort(const kmem_option_t *o, kmem_debug_config_t *c)
{
	if (o->value != NULL)
		return ("no value");
	c->noabort = true;
	return (NULL);
}

static const char *
log_size(const kmem_option_t *o, kmem_debug_config_t *c, kmem_debug_log_t log)
{
	uint64_t size = LOG_SIZE_DEFAULT;
	if (o->value != NULL && !value_size(o, 1, (uint64_t)1 << 32, &size))
		return ("a size in bytes up to 4g, such as 64k or 1m");
	c->log_size[log] = (size_t)size;
	return (NULL);
}

static const char *
logging_transaction(const kmem_option_t *o, kmem_debug_config_t *c)
{
	return (log_size(o, c, KMEM_LOG_TRANSACTION));
}

static const char *
logging_contents(const kmem_option_t *o, kmem_debug_config_t *c)
{
	return (log_size(o, c, KMEM_LOG_CONTENTS));
}

static const char *
logging_fail(const kmem_option_t *o, kmem_debug_config_t *c)
{
	return (log_size(o, c, KMEM_LOG_FAIL));
}

typedef struct option_spec {
	const char *name;
	option_apply_t *apply;
} option_spec_t;

static const option_spec_t debug_options[] = {
	{ "default", debug_default },
	{ "audit", debug_audit },
	{ "contents", debug_contents },
	{ "guards", debug_guards },
	{ "verbose", debug_verbose },
	{ "firewall", debug_firewall },
	{ "lite", debug_lite },
	{ "maxverify", debug_maxverify },
	{ "noabort", debug_noabort },
	{ NULL, NULL }
};

static const option_spec_t logging_options[] = {
	{ "transaction", logging_transaction },
	{ "contents", logging_contents },
	{ "fail", logging_fail },
	{ NULL, NULL }
};

/*
 * Parse the options of text (called what) from specs into *c; false with
 * err set at the first bad one.
 */
static bool
parse_options(const char *what, const char *text, const option_spec_t *specs,
    kmem_debug_config_t *c, char *err, size_t errlen)
{
	kmem_option_t o;
	while (kmem_option_next(&text, &o)) {
		const option_spec_t *spec = specs;
		while (spec->name != NULL && !kmem_option_is(&o, spec->name))
			spec++;
		if (spec->name == NULL) {
			size_t n = kmem_snprintf(err, errlen, "%s: unknown "
			    "option '%.*s' (known:", what, (int)o.name_len,
			    o.name);
			for (spec = specs; spec->name != NULL; spec++)
				n += kmem_snprintf(err + (n < errlen ? n :
				    errlen), n < errlen ? errlen - n : 0, " %s",
				    spec->name);
			if (n < errlen)
				kmem_snprintf(err + n, errlen - n, ")");
			return (false);
		}
		const char *expected = spec->apply(&o, c);
		if (expected != NULL) {
			kmem_snprintf(err, errlen, "%s: option '%s': bad value "
			    "'%.*s' (expected %s)", what, spec->name,
			    (int)o.value_len, o.value != NULL ? o.value : "",
			    expected);
			return (false);
		}
	}
	return (true);
}

int
kmem_debug_parse(const char *debug, const char *logging,
    kmem_debug_config_t *c, char *err, size_t errlen)
{
	*c = (kmem_debug_config_t){ .audit_depth = AUDIT_DEPTH_DEFAULT,
	    .contents_bytes = CONTENTS_DEFAULT, .maxverify = SIZE_MAX };
	if (!parse_options("debug", debug, debug_options, c, err, errlen) ||
	    !parse_options("logging", logging, logging_options, c, err,
	    errlen))
		return (-1);
	/* A contents flag with nowhere to log to gets a log of its own. */
	if ((c->flags & KMF_CONTENTS) && c->log_size[KMEM_LOG_CONTENTS] == 0)
		c->log_size[KMEM_LOG_CONTENTS] = LOG_SIZE_DEFAULT;
	return (0);
}

int
kmem_debug_configure(const char *debug, const char *logging, char *err,
    size_t errlen)
{
	kmem_debug_config_t pending;
	if (kmem_initialized()) {
		kmem_snprintf(err, errlen, "kmem_debug_configure: too late: kmem "
		    "has already started (configure before the first "
		    "allocation)");
		return (-1);
	}
	if (kmem_debug_parse(debug, logging, &pending, err, errlen) != 0)
		return (-1);
	kmem_debug_config = pending;
	configured = true;
	return (0);
}

int
kmem_debug_flags(void)
{
	return (kmem_debug_config.flags);
}

/* The first of the two variables that is set. */
static const char *
environment_either(const char *name, const char *fallback)
{
	const char *value = kmem_environment(name);
	return (value != NULL ? value : kmem_environment(fallback));
}

bool
kmem_debug_from_environment(char *err, size_t errlen)
{
	if (configured)
		return (true);
	const char *debug = environment_either("KMEM_DEBUG", "UMEM_DEBUG");
	const char *logging = environment_either("KMEM_LOGGING",
	    "UMEM_LOGGING");
	kmem_debug_config_t pending;
	if (debug == NULL && logging == NULL)
		return (true);
	if (kmem_debug_parse(debug, logging, &pending, err, errlen) != 0)
		return (false);
	kmem_debug_config = pending;
	return (true);
}
