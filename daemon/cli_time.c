/*
 * cli_time.c — times a person types on the command line: a date or time
 * read in a time zone (global.timezone, or --timezone for commands without
 * a configuration) unless it carries an offset, Unix seconds, or relative to
 * now ("now", "-7d", "now-2h"); the same rule for every subcommand.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "daemon.h"

int cli_time(const char *cmd, const char *opt, const char *s, const char *zone, int64_t *ms)
{
	struct pw_tz *tz = NULL;
	char *cause = NULL;
	int rc;
	if (pw_tz_load(zone ? zone : CLI_DEFAULT_ZONE, &tz, &cause) != 0) {
		fprintf(stderr, "pacewatch: %s: %s\n", cmd, cause);
		free(cause);
		return 2;
	}
	rc = pw_parse_time_rel(s, tz, pw_now_ms(), ms);
	pw_tz_free(tz);
	if (rc != 0) {
		fprintf(stderr, "pacewatch: %s: %s: invalid time \"%s\" (YYYY-MM-DD [HH:MM] in %s, "
				"RFC 3339, Unix seconds, now, -7d)\n",
			cmd, opt, s, zone ? zone : CLI_DEFAULT_ZONE);
		return 2;
	}
	return 0;
}
