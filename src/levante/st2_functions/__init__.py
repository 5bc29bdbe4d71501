"""StackStorm's own expression functions, shared by the engine's workflow expressions and
the platform's rendered Jinja (parameters, action-chains).

Neither service owns them: both import this package, which imports neither. `JINJA_FILTERS`
maps a Jinja filter name to its function; `YAQL_FUNCTIONS` a workflow (YAQL) function name
to its function (the same names: StackStorm's Mistral plugin exposed them so). Modules by
family: `data` (JSON, YAML, `to_complex`, `json_escape`), `jsonpath`, `regex`, `time`,
`version`, `misc` (`use_none`); `bounds` holds the limits they run within.

`decrypt_kv` and `st2kv` (the datastore) are not here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from levante.st2_functions import data, jsonpath, misc, regex, time, version
from levante.st2_functions.bounds import LimitExceeded, RegexTimeout, time_budget

__all__ = ["JINJA_FILTERS", "YAQL_FUNCTIONS", "LimitExceeded", "RegexTimeout",
           "time_budget"]

JINJA_FILTERS: dict[str, Callable[..., Any]] = {
    "from_json_string": data.from_json_string,
    "from_yaml_string": data.from_yaml_string,
    "to_json_string": data.to_json_string,
    "to_yaml_string": data.to_yaml_string,
    "to_complex": data.to_complex,
    "json_escape": data.json_escape,
    "jsonpath_query": jsonpath.jsonpath_query,
    "regex_match": regex.regex_match,
    "regex_replace": regex.regex_replace,
    "regex_search": regex.regex_search,
    "regex_substring": regex.regex_substring,
    "to_human_time_from_seconds": time.to_human_time_from_seconds,
    "use_none": misc.use_none,
    "version_compare": version.version_compare,
    "version_more_than": version.version_more_than,
    "version_less_than": version.version_less_than,
    "version_equal": version.version_equal,
    "version_match": version.version_match,
    "version_bump_major": version.version_bump_major,
    "version_bump_minor": version.version_bump_minor,
    "version_bump_patch": version.version_bump_patch,
    "version_strip_patch": version.version_strip_patch,
}
YAQL_FUNCTIONS: dict[str, Callable[..., Any]] = dict(JINJA_FILTERS)
